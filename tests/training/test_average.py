"""`ifcn average`: the mean of several checkpoints' weights (training.average)."""
import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.cli import main
from models.errors import CheckpointError
from tests.models.helpers import random_model
from training.average import average_checkpoints


def _ckpts(tmp_path, seeds, backbone="resnet18", half=False):
    paths = []
    for s in seeds:
        p = tmp_path / f"{backbone}_{s}.pt"
        save_checkpoint(p, random_model(backbone, seed=s), meta={"val_iou": 0.5}, extra={"step": 3}, half=half)
        paths.append(p)
    return paths


def test_the_weights_are_the_mean_and_integer_buffers_the_firsts(tmp_path):
    (tmp_path / "fp16").mkdir()
    paths = [_ckpts(tmp_path / "fp16", (1,), half=True)[0], *_ckpts(tmp_path, (2, 3))]  # a shipped fp16 file too
    out = tmp_path / "soup.pt"
    assert main(["average", *map(str, paths), "--out", str(out)]) == 0
    states = [load_checkpoint(p).model.state_dict() for p in paths]
    got = load_checkpoint(out)
    assert got.extra == {} and got.meta["averaged_from"] == [str(p) for p in paths]
    mean_seen = 0
    for k, v in got.model.state_dict().items():
        if v.is_floating_point():
            want = sum(s[k].float() for s in states) / 3
            assert torch.allclose(v, want, atol=1e-6), k
            mean_seen += 1
        else:
            assert torch.equal(v, states[0][k])
    assert mean_seen > 10
    x = torch.rand(1, 5, 64, 64)
    with torch.no_grad():  # a usable model: it runs, and differs from each input
        y = got.model(x)
        assert torch.isfinite(y).all()
        assert not torch.allclose(y, load_checkpoint(paths[1]).model(x))


def test_other_architectures_and_a_single_file_are_refused(tmp_path, capsys):
    a = _ckpts(tmp_path, (1,))[0]
    b = tmp_path / "b.pt"
    save_checkpoint(b, random_model("resnet18", stride=16, seed=2))
    assert main(["average", str(a), str(b), "--out", str(tmp_path / "x.pt")]) != 0
    assert "another architecture" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="stride 16 vs 8"):
        average_checkpoints([a, b], tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    assert main(["average", str(a), "--out", str(tmp_path / "y.pt")]) != 0
    assert not (tmp_path / "y.pt").exists()


def test_a_hostile_file_is_refused_by_the_safe_reader(tmp_path):
    a = _ckpts(tmp_path, (1,))[0]
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["average", str(a), str(bad), "--out", str(tmp_path / "z.pt")]) != 0
    assert not (tmp_path / "z.pt").exists()
