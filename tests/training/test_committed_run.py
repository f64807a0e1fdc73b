"""training/checkpoints/in1.pt, kd1.pt and l2kd1.pt: the committed states of the from-ImageNet run
(training/recipes/imagenet_real.sh), of its distillation with v5 (distill_in1.sh) and of the EfficientNet-Lite2
student distilled from v5 and kd1.pt, so that a session on a new machine continues them
(`INIT=training/checkpoints/<name>.pt`) instead of starting again."""
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint
from training.train_checkpoint import start
from training.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
DIR = ROOT / "training" / "checkpoints"
CKPT = DIR / "in1.pt"
V5 = "resources/weights/default.pt"


@pytest.mark.parametrize("name, run, backbone, megabytes, teachers", [
    ("in1.pt", "runs/in1", "efficientnet_lite0", 8, None),
    ("kd1.pt", "runs/kd1", "efficientnet_lite0", 8, [V5, "training/checkpoints/in1.pt"]),
    ("l2kd1.pt", "runs/l2kd1", "efficientnet_lite2", 10, [V5, "training/checkpoints/kd1.pt"]),
])
def test_loads_safely_small_and_says_where_it_came_from(name, run, backbone, megabytes, teachers):
    path = DIR / name
    assert path.is_file()
    assert path.stat().st_size <= megabytes * 1024 * 1024  # fp16, no optimiser state
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["format"] == "ifcn-checkpoint"
    loaded = load_checkpoint(path)
    assert loaded.spec.backbone == backbone and loaded.spec.stride == 8
    assert run in loaded.meta.get("note", "") and "step" in loaded.meta["note"]
    assert 0.5 < loaded.meta.get("val_iou", 0) <= 1.0
    if teachers is not None:  # the teachers are the ones the recipe names, files in the repository
        assert loaded.meta["training"]["teachers"] == teachers
        assert all((ROOT / t).is_file() for t in teachers)


def test_a_new_run_starts_from_its_weights(tmp_path):
    """What INIT= does in the recipe: --init-checkpoint builds the run's model from the file, weights equal."""
    cfg = TrainConfig(voc_root=None, out=str(tmp_path / "run"), init_checkpoint=str(CKPT))
    begun = start(cfg, tmp_path / "run" / "last.pt", torch.device("cpu"), False, torch.float32, False)
    assert begun.state.step == 0
    ref, got = load_checkpoint(CKPT).model.state_dict(), begun.model.state_dict()
    assert ref.keys() == got.keys()
    for k, v in ref.items():
        np.testing.assert_array_equal(v.numpy(), got[k].detach().cpu().numpy(), err_msg=k)
