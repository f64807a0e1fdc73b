"""The pre-load checks of a checkpoint (models/checkpoint_scan.py): what they see without loading."""
import pytest
import torch

from models import checkpoint_scan as scan
from models.backbones import spec_for
from models.checkpoint import load_checkpoint, read_meta, save_checkpoint
from models.errors import CheckpointError
from models.fcn import build_ifcn


@pytest.fixture(scope="module")
def lite(tmp_path_factory):
    torch.manual_seed(0)
    return build_ifcn(spec_for("efficientnet_lite0"), weights=None)


def test_skeleton_declares_what_torch_loads(tmp_path, lite):
    save_checkpoint(tmp_path / "m.pt", lite, half=True)
    with open(tmp_path / "m.pt", "rb") as f:
        skel = scan.read_skeleton(f)
    loaded = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    declared = skel.payload["state_dict"]
    assert declared.keys() == loaded.keys()
    for k, t in loaded.items():
        assert declared[k].shape == tuple(t.shape) and declared[k].dtype == t.dtype
        assert declared[k].numel <= declared[k].storage.numel


def test_read_meta_reads_no_weights(tmp_path, lite, monkeypatch):
    save_checkpoint(tmp_path / "m.pt", lite, meta={"val_iou": 0.5})
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("read_meta loaded the weights"))
    meta = read_meta(tmp_path / "m.pt")
    assert meta["val_iou"] == 0.5 and meta["spec"]["backbone"] == "efficientnet_lite0"


def test_training_checkpoint_with_optimiser_state_loads(tmp_path, lite):
    """The checks do not refuse what `ifcn train` writes (Adam moments, RNG and scaler state)."""
    opt = torch.optim.Adam(lite.parameters(), lr=1e-3)
    for p in lite.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    extra = {"optimizer": opt.state_dict(), "step": 1, "epoch": 0, "batch_in_epoch": 0,
             "rng": {"torch": torch.get_rng_state(), "numpy": {"keys": torch.zeros(624, dtype=torch.int64),
                     "pos": 624, "has_gauss": 0, "cached": 0.0}, "python": {"version": 3, "state": [1] * 625}},
             "scaler": {"scale": 65536.0, "_growth_tracker": 0}, "config": {"lr": 1e-3, "data": ["a"]}}
    save_checkpoint(tmp_path / "last.pt", lite, meta={"val_iou": 0.5}, extra=extra)
    loaded = load_checkpoint(tmp_path / "last.pt")
    torch.optim.Adam(loaded.model.parameters()).load_state_dict(loaded.extra["optimizer"])
    assert loaded.extra["rng"]["torch"].dtype == torch.uint8


def test_budget_follows_the_architecture(tmp_path, lite):
    """Shapes are checked against the architecture; the storage budget is a few times its weights."""
    save_checkpoint(tmp_path / "m.pt", lite)
    with open(tmp_path / "m.pt", "rb") as f:
        skel = scan.read_skeleton(f)
    expected = scan.expected_state(lite)
    scan.check_against(skel, expected, "lite")
    key = next(iter(expected))
    with pytest.raises(CheckpointError, match="do not match"):
        scan.check_against(skel, {**expected, key: ((1,), expected[key][1])}, "lite")
    budget = 4 * sum(4 * v.numel() for v in lite.state_dict().values()) + scan.SLACK_BYTES
    assert sum(r.nbytes for r in skel.storages.values()) < budget < 200 * 2 ** 20


def test_messages_survive_absurd_values():
    assert scan._show(10 ** 5000).endswith("...") or len(scan._show(10 ** 5000)) <= 60
    assert not scan._real(10 ** 400) and not scan._real(float("nan")) and not scan._real(True)
    assert scan._real(255) and scan._real(0.5)
