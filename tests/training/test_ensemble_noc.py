"""training/recipes/ensemble_noc.py: `ifcn noc` on the mean logits of several models (a measurement script)."""
import csv
import runpy
from pathlib import Path

import pytest

from models.errors import IFCNError
from models.predictor import Predictor
from models.checkpoint import save_checkpoint
from tests.training.test_distill import _perturbed
from tests.training.test_layouts import simple_folder

RECIPE = Path(__file__).resolve().parents[2] / "training" / "recipes" / "ensemble_noc.py"


def _ious(out: Path) -> list[list[str]]:
    with open(out / "per_object.csv") as f:
        return [row[9:] for row in csv.reader(f)][1:]  # iou_1 ... iou_20


def _biased(path: Path, bias: float) -> str:
    """A model whose logits are about `bias` everywhere: + selects the whole image, - nothing."""
    model = _perturbed(1, mean=(0.5,) * 3, std=(0.5,) * 3)
    for name, p in model.named_parameters():
        if name.startswith("score"):
            p.data.mul_(0.0)
    model.score32.bias.data.fill_(bias)  # (a deconvolution's output of a constant is not exactly constant)
    save_checkpoint(path, model)
    return str(path)


def test_the_mean_of_a_model_with_itself_is_the_model_and_of_two_is_neither(tmp_path):
    """a says "everything" (logits +3: IoU = the object's share of the image), b says "nothing" (-4): their mean
    (-0.5) says nothing, not what a says."""
    run = runpy.run_path(str(RECIPE))["run"]
    a, b = _biased(tmp_path / "a.pt", 3.0), _biased(tmp_path / "b.pt", -4.0)
    data = simple_folder(tmp_path / "objects", 2, seed=4)
    single = Predictor._forward
    noc = ["noc", "--data", str(data), "--split", "all", "--no-brs", "--no-snap", "--max-clicks", "3", "--out"]
    from models.cli import main

    assert main([*noc, str(tmp_path / "a"), "--checkpoint", a]) == 0
    assert run([a, a], [*noc, str(tmp_path / "aa")]) == 0
    assert run([a, b], [*noc, str(tmp_path / "ab")]) == 0
    assert Predictor._forward is single  # put back for whatever runs next in the process
    assert _ious(tmp_path / "aa") == _ious(tmp_path / "a")
    assert all(float(v) > 0.1 for row in _ious(tmp_path / "a") for v in row)
    assert all(float(v) == 0.0 for row in _ious(tmp_path / "ab") for v in row)
    with pytest.raises(IFCNError, match="--no-brs"):
        run([a, b], ["noc", "--data", str(data), "--out", str(tmp_path / "x")])
