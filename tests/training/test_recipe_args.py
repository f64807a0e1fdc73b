"""The training recipes' environment variables reach `ifcn train` (the recipes run with PY=echo, which prints the
command line instead of training)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "training" / "recipes"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("nice") is None,
                                reason="needs bash and nice")


# the recipes' own variables: a developer's shell may have some set
RECIPE_VARS = {"OUT", "LR", "SEED", "INIT", "ITER", "MAX_STEPS", "VAL_EVERY", "AUG", "RESUME", "D", "BACKBONE",
               "TEACHERS", "A", "AREA", "STUDENT_AUG"}


def _args(script: str, **env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in RECIPE_VARS}
    full = {**base, "PY": "echo", **env}
    out = subprocess.run(["bash", str(RECIPES / script)], cwd=ROOT, env=full, capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def _value(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def test_imagenet_start_takes_the_backbone_variable():
    args = _args("imagenet_real.sh", BACKBONE="efficientnet_lite2", OUT="runs/x")
    assert _value(args, "--weights") == ["imagenet"] and _value(args, "--backbone") == ["efficientnet_lite2"]
    assert "--init-checkpoint" not in args and _value(args, "--out") == ["runs/x"]


def test_imagenet_start_defaults_to_lite0():
    assert _value(_args("imagenet_real.sh"), "--backbone") == ["efficientnet_lite0"]


def test_distillation_from_imagenet_names_both_teachers_and_the_weight():
    teachers = "resources/weights/default.pt training/checkpoints/kd1.pt"
    args = _args("distill_in1.sh", TEACHERS=teachers, INIT="imagenet", BACKBONE="efficientnet_lite2", A="0.5",
                 LR="3e-4", SEED="44", OUT="runs/l2kd1", RESUME="--resume")
    assert _value(args, "--teacher") == teachers.split()
    assert _value(args, "--distill-weight") == ["0.5"] and _value(args, "--backbone") == ["efficientnet_lite2"]
    assert _value(args, "--lr") == ["3e-4"] and _value(args, "--seed") == ["44"] and "--resume" in args


def test_a_checkpoint_start_has_no_backbone_option():
    args = _args("distill_in1.sh", BACKBONE="efficientnet_lite2")
    assert _value(args, "--init-checkpoint") == ["training/checkpoints/in1.pt"] and "--backbone" not in args


def test_distillation_passes_the_area_power_only_when_set():
    assert _value(_args("distill_in1.sh", AREA="0.25"), "--area-power") == ["0.25"]
    assert "--area-power" not in _args("distill_in1.sh")


def test_v5_distillation_starts_from_v5_with_its_members_recipe():
    args = _args("distill_v5.sh")
    assert _value(args, "--init-checkpoint") == ["resources/weights/default.pt"]
    assert _value(args, "--teacher") == ["resources/weights/default.pt", "training/checkpoints/kd1.pt"]
    assert _value(args, "--distill-weight") == ["0.5"] and _value(args, "--iterative") == ["8"]
    assert _value(args, "--zoom-prob") == ["0.5"] and _value(args, "--out") == ["runs/v5kd1"]
    # v5's members had no click weighting, colour jitter or copy-paste: neither has this student
    assert not {"--click-weight", "--colour-prob", "--paste-prob"} & set(args)
    args = _args("distill_v5.sh", A="0.7", LR="1e-5", RESUME="--resume")
    assert _value(args, "--distill-weight") == ["0.7"] and _value(args, "--lr") == ["1e-5"] and "--resume" in args
