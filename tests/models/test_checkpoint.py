import os
import pickle

import pytest
import torch

from models.checkpoint import load_checkpoint, read_meta, save_checkpoint
from models.errors import CheckpointError
from tests.models.helpers import random_model


def test_round_trip_gives_identical_outputs(tmp_path):
    net = random_model()
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, meta={"val_iou": 0.5, "data": "synthetic"}, extra={"step": 7})
    loaded = load_checkpoint(path)
    assert loaded.spec == net.spec
    assert loaded.meta["val_iou"] == 0.5 and loaded.extra["step"] == 7
    x = torch.randn(1, 5, 65, 47)
    with torch.no_grad():
        assert torch.equal(net(x), loaded.model(x))
    assert read_meta(path)["spec"]["backbone"] == "resnet18"


def test_half_storage_is_close(tmp_path):
    net = random_model()
    save_checkpoint(tmp_path / "h.pt", net, half=True)
    assert (tmp_path / "h.pt").stat().st_size < 0.6 * _size_full(tmp_path, net)
    loaded = load_checkpoint(tmp_path / "h.pt")
    x = torch.randn(1, 5, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), loaded.model(x), atol=2e-2)


def _size_full(tmp_path, net):
    save_checkpoint(tmp_path / "f.pt", net)
    return (tmp_path / "f.pt").stat().st_size


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/ifcn_pwned_marker",))


def test_pickle_payload_is_refused_and_not_executed(tmp_path):
    marker = "/tmp/ifcn_pwned_marker"
    if os.path.exists(marker):
        os.unlink(marker)
    path = tmp_path / "evil.pt"
    torch.save({"format": "ifcn-checkpoint", "spec": {}, "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="evil.pt.*refused"):
        load_checkpoint(path)
    assert not os.path.exists(marker)
    path2 = tmp_path / "evil2.pt"
    path2.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match="evil2.pt"):
        load_checkpoint(path2)
    assert not os.path.exists(marker)


def test_truncated_empty_missing_and_foreign_files(tmp_path):
    net = random_model()
    good = tmp_path / "good.pt"
    save_checkpoint(good, net)
    data = good.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "text.pt").write_text("hello")
    torch.save(net.state_dict(), tmp_path / "bare.pt")
    for name, pattern in [("trunc.pt", "trunc.pt"), ("empty.pt", "empty"), ("text.pt", "text.pt"),
                          ("missing.pt", "not found"), ("bare.pt", "bare state dict")]:
        with pytest.raises(CheckpointError, match=pattern):
            load_checkpoint(tmp_path / name)


def test_state_dict_of_another_architecture(tmp_path):
    a = random_model("resnet18")
    b = random_model("resnet34")
    path = tmp_path / "mixed.pt"
    save_checkpoint(path, a)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = b.state_dict()
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="mixed.pt.*do not match"):
        load_checkpoint(path)


def test_unknown_spec_fields_rejected(tmp_path):
    path = tmp_path / "odd.pt"
    save_checkpoint(path, random_model())
    payload = torch.load(path, weights_only=True)
    payload["spec"]["bogus"] = 1
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="odd.pt.*unknown fields"):
        load_checkpoint(path)
