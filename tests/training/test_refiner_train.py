"""`ifcn refiner-pack` and `ifcn train-refiner` on a small generated object folder: states written along the
oracle's clicks, training that lowers the loss and resumes, by-source weights, and the export of a model that
carries the refiner."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from models.checkpoint import save_checkpoint
from models.errors import IFCNError
from models.fcn import build_ifcn
from models.predictor import Predictor
from models.spec import ModelSpec
from tests.training.test_layouts import simple_folder
from training import refiner_pack, refiner_train
from training.export import export_checkpoint
from training.layouts import in_val_split, open_object_sources


def _args(module, *argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    module.add_arguments(p)
    return p.parse_args(list(argv))


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """A tiny model, a 40-image object folder and the pack of its training split."""
    root = tmp_path_factory.mktemp("refiner")
    torch.manual_seed(0)
    save_checkpoint(root / "model.pt", build_ifcn(ModelSpec(backbone="resnet18")))
    folder = simple_folder(root / "objects", 40)
    n = refiner_pack.build(open_object_sources([str(folder)]), root / "pack", checkpoint=str(root / "model.pt"))
    return root, n


def test_pack_holds_each_training_object_with_its_states(pack, capsys):
    root, n = pack
    files = sorted((root / "pack").glob("*.npz"))
    assert n >= 30 and len(files) == n  # one object per image; the held-out 10 % are not in it
    with np.load(files[0]) as z:
        probs, clicks, gt = z["probs_0"], z["clicks_0"], z["gt_0"]
        assert z["rgb"].shape == (64, 64, 3) and gt.shape == (64, 64) and gt.sum() == 24 * 24
        assert probs.dtype == np.uint8 and probs.shape[1:] == (64, 64)
        assert 1 <= len(probs) <= refiner_pack.MAX_CLICKS and clicks.shape == (len(probs), 3)
        assert clicks[0, 2] == 1.0 and gt[int(clicks[0, 1]), int(clicks[0, 0])]  # the first click is on it
    # a corrupt photo and a mask of the wrong size are skipped with a message, the rest is written
    from PIL import Image
    broken = tmp_path_factory_copy(root)
    ids = sorted(p.stem for p in (broken / "images").glob("*.png") if not in_val_split(p.stem))
    (broken / "images" / f"{ids[0]}.png").write_bytes(b"\x89PNG broken")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(broken / "masks" / f"{ids[1]}_0.png")
    n2 = refiner_pack.build(open_object_sources([str(broken)]), root / "pack2", checkpoint=str(root / "model.pt"))
    assert n2 == n - 2 and len(list((root / "pack2").glob("*.npz"))) == n2
    out = capsys.readouterr().out
    assert f"skip objects_copy/{ids[0]}" in out and f"skip objects_copy/{ids[1]}: mask 0 does not have" in out
    # resumable: a second run skips the images already written
    assert refiner_pack.build(open_object_sources([str(root / "objects")]), root / "pack",
                              checkpoint=str(root / "model.pt")) == 0


def tmp_path_factory_copy(root):
    """A copy of the fixture's object folder that a test may break."""
    import shutil
    dst = root / "objects_copy"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(root / "objects", dst)
    return dst


def test_training_lowers_the_loss_resumes_and_exports(pack, tmp_path):
    root, _ = pack
    out = tmp_path / "run"
    base = ["--pack", str(root / "pack"), "--out", str(out), "--batch-size", "4", "--crop-size", "64",
            "--width", "8", "--val-every", "30", "--threads", "1", "--lr", "5e-3"]
    assert refiner_train.run(_args(refiner_train, *base, "--steps", "30")) == 0
    assert refiner_train.run(_args(refiner_train, *base, "--steps", "60", "--resume")) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [30, 60]  # the second run went on from step 30
    assert log[-1]["loss"] < log[0]["loss"]
    assert {"raw", "snap", "refined"} <= set(log[-1])
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["step"] == 60 and ck["width"] == 8
    export_checkpoint(root / "model.pt", tmp_path / "m.pt", refiner=out / "best.pt")
    p = Predictor.load(tmp_path / "m.pt", engine="torch")
    assert p.uses_refiner and p.spec.refiner["input"] == "network"


def test_a_refiner_can_learn_on_snapped_probabilities(pack, tmp_path):
    root, _ = pack
    out = tmp_path / "run"
    assert refiner_train.run(_args(refiner_train, "--pack", str(root / "pack"), "--out", str(out), "--batch-size",
                                   "2", "--crop-size", "64", "--width", "4", "--val-every", "5", "--steps", "5",
                                   "--threads", "1", "--input", "snapped")) == 0
    colour = tmp_path / "colour"
    assert refiner_train.run(_args(refiner_train, "--pack", str(root / "pack"), "--out", str(colour), "--steps",
                                   "2", "--val-every", "2", "--width", "4", "--threads", "1", "--batch-size", "2",
                                   "--crop-size", "64", "--input", "colour")) == 0
    assert torch.load(colour / "best.pt", weights_only=True)["input"] == "colour"
    again = tmp_path / "again"  # --init starts from those weights
    assert refiner_train.run(_args(refiner_train, "--pack", str(root / "pack"), "--out", str(again), "--steps",
                                   "1", "--val-every", "1", "--lr", "0", "--width", "4", "--threads", "1",
                                   "--init", str(out / "best.pt"))) == 0
    a, b = (torch.load(d / "best.pt", weights_only=True)["model"] for d in (out, again))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(IFCNError, match="width"):
        refiner_train.run(_args(refiner_train, "--pack", str(root / "pack"), "--out", str(again), "--steps", "0",
                                "--width", "8", "--init", str(out / "best.pt")))
    log = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    assert log["refined"] >= 0 and log["snap"] >= 0
    export_checkpoint(root / "model.pt", tmp_path / "m.pt", refiner=out / "best.pt")
    assert Predictor.load(tmp_path / "m.pt", engine="torch").spec.refiner["input"] == "snapped"


def test_source_weights_and_refusals(pack, tmp_path):
    probs = refiner_train.source_probabilities(["a", "a", "a", "b"], "a:0.5,b:0.5")
    np.testing.assert_allclose(probs, [1 / 6, 1 / 6, 1 / 6, 0.5])
    np.testing.assert_allclose(refiner_train.source_probabilities(["a", "b"]), [0.5, 0.5])
    with pytest.raises(IFCNError):
        refiner_train.source_probabilities(["a"], "z:1")
    with pytest.raises(IFCNError):
        refiner_train.source_probabilities(["a"], "a=1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IFCNError, match="too few states"):
        refiner_train.run(_args(refiner_train, "--pack", str(tmp_path / "empty"), "--out", str(tmp_path / "o")))
    with pytest.raises(IFCNError):
        refiner_train.run(_args(refiner_train, "--pack", "x", "--out", str(tmp_path / "o"), "--width", "2"))


def test_broken_pack_files_are_skipped_with_a_message(pack, tmp_path, capsys):
    """A truncated file, a file that is not a zip, one with arrays that do not fit its photo and one that
    needs pickle are each skipped (named on stdout); the good ones load."""
    import shutil

    root, _ = pack
    bad = tmp_path / "pack"
    shutil.copytree(root / "pack", bad)
    files = sorted(bad.glob("*.npz"))
    files[0].write_bytes(files[0].read_bytes()[:200])
    files[1].write_bytes(b"not a zip file")
    with np.load(files[2]) as z:
        arrays = dict(z)
    arrays["gt_0"] = arrays["gt_0"][:10]
    np.savez(files[2], **arrays)
    np.savez(files[3], rgb=np.array([object()], dtype=object))
    photos, states, _ = refiner_train.load_pack(bad, 4, np.random.default_rng(0), val=False)
    photos_v, _, _ = refiner_train.load_pack(bad, 4, np.random.default_rng(0), val=True)
    out = capsys.readouterr().out
    skipped = [f.name for f in files[:4] if f"skipped {f.name}" in out]
    assert len(skipped) == 4, out
    assert len(photos) + len(photos_v) == len(files) - 4 and states
    with pytest.raises(IFCNError, match="no such folder"):
        refiner_train.load_pack(tmp_path / "missing", 4, np.random.default_rng(0), val=False)


def test_network_training_keeps_the_carried_refiner(pack, tmp_path):
    """`ifcn train --init-checkpoint` of a model that carries a refiner trains the network and leaves the refiner
    as it was (it is not in forward(); frozen so that distributed training has no unused gradients either)."""
    from models.checkpoint import load_checkpoint
    from training.train import TrainConfig, train

    root, _ = pack
    ref = tmp_path / "ref.pt"
    torch.manual_seed(1)
    r = refiner_train.Refiner(8)
    with torch.no_grad():
        for p in r.parameters():
            p.normal_(0, 0.1)
    torch.save({"model": r.state_dict(), "width": 8, "input": "snapped"}, ref)
    export_checkpoint(root / "model.pt", tmp_path / "with_ref.pt", half=False, refiner=ref)
    result = train(TrainConfig(voc_root="", data=(str(root / "objects"),), out=str(tmp_path / "run"),
                               init_checkpoint=str(tmp_path / "with_ref.pt"), epochs=0, max_steps=2, batch_size=2,
                               crop_size=64, workers=0, device="cpu", show_bar=False, val_every=2, lr=1e-2))
    assert result.status == "completed"
    before, after = load_checkpoint(tmp_path / "with_ref.pt").model, load_checkpoint(result.last_path).model
    assert after.spec.refiner == {"arch": "refiner-v1", "width": 8, "input": "snapped"}
    for k, v in before.refiner.state_dict().items():
        assert torch.equal(after.refiner.state_dict()[k], v)
    assert any(not torch.equal(a, b) for a, b in zip(before.score8.parameters(), after.score8.parameters()))
