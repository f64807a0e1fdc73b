import json

import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from tests.models.helpers import random_model
from training.export import export_checkpoint


def test_export_strips_state_halves_and_records_noc(tmp_path):
    net = random_model()
    src = tmp_path / "best.pt"
    save_checkpoint(src, net, meta={"val_iou": 0.7}, extra={"optimizer": {"lr": torch.tensor(1.0)}, "step": 3})
    noc = tmp_path / "noc"
    noc.mkdir()
    (noc / "summary.json").write_text(json.dumps({"noc@85": 3.5, "noc@90": 5.0, "objects": 10,
                                                   "zoom_in": 320, "brs": True, "seconds": 9.0}))
    dst = tmp_path / "ship.pt"
    export_checkpoint(src, dst, half=True, noc_summary=noc / "summary.json")
    out = load_checkpoint(dst)
    assert out.extra == {}
    assert out.meta["noc@85"] == 3.5 and out.meta["val_iou"] == 0.7
    assert out.meta["zoom_in"] == 320 and out.meta["brs"] is True  # how the NoC was measured
    assert "seconds" not in out.meta
    assert dst.stat().st_size < src.stat().st_size
    payload = torch.load(dst, weights_only=True)
    assert all(v.dtype == torch.float16 for v in payload["state_dict"].values() if v.is_floating_point())


def test_export_records_a_given_validation_iou(tmp_path):
    """`ifcn export --val-iou`: for a checkpoint no training run validated (an `ifcn average` result)."""
    from models.cli import main

    src = tmp_path / "soup.pt"
    save_checkpoint(src, random_model(), meta={"averaged_from": ["a.pt", "b.pt"]})
    dst = tmp_path / "ship.pt"
    assert main(["export", "--checkpoint", str(src), "--out", str(dst), "--val-iou", "0.575"]) == 0
    meta = load_checkpoint(dst).meta
    assert meta["val_iou"] == 0.575 and meta["averaged_from"] == ["a.pt", "b.pt"]
