"""training/recipes/mask_audit.py: the checks of a prediction a user would call a defect (a measurement script)."""
import json
import runpy
from pathlib import Path

import numpy as np

from models.checkpoint import save_checkpoint
from models.clicks import Click
from tests.models.helpers import random_model
from tests.training.test_layouts import simple_folder

RECIPE = Path(__file__).resolve().parents[2] / "training" / "recipes" / "mask_audit.py"
AUDIT = runpy.run_path(str(RECIPE))


def _textured(h=60, w=80, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 8 + 100).astype(np.uint8)  # flat: no edge steps >= 12


def test_clicks_on_the_wrong_side():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    clicks = [Click(7, 7, True), Click(2, 2, True), Click(10, 10, False), Click(18, 18, False)]
    assert AUDIT["wrong_side"](mask, clicks) == ([1], [2])
    found = AUDIT["check"](mask.astype(np.float32), mask, _textured(20, 20), clicks)
    assert found["pos_out"] == [1] and found["neg_in"] == [2] and "first_empty" not in found
    assert AUDIT["check"](np.zeros((20, 20), np.float32), mask, _textured(20, 20), clicks[:1]) == \
        {"first_empty": 0, "pos_out": [0]}


def test_a_part_without_a_click_outside_the_object_is_stray():
    gt = np.zeros((60, 80), bool)
    gt[10:30, 10:30] = True
    mask = gt.copy()
    mask[40:52, 50:62] = True  # 144 px, no click, all outside
    mask[12:14, 40:43] = True  # 6 px: too small to count
    clicks = [Click(15, 15, True)]
    assert AUDIT["stray_parts"](mask, gt, clicks) == [144]
    assert AUDIT["stray_parts"](mask, gt, clicks + [Click(55, 45, True)]) == []  # clicked: the user's
    gt2 = gt.copy()
    gt2[40:52, 50:62] = True
    assert AUDIT["stray_parts"](mask, gt2, clicks) == []  # inside the object (a part the object has)


def test_a_straight_cut_is_flagged_unless_the_object_or_the_photo_explains_it():
    rgb, gt = _textured(), np.zeros((60, 80), bool)
    yy, xx = np.mgrid[:60, :80]
    gt[(yy - 30) ** 2 + (xx - 40) ** 2 < 20 ** 2] = True
    cut = gt.copy()
    cut[:25] = False  # a crop edge across the disc: a 30-px straight line in a flat photo
    runs = AUDIT["unexplained_straight"](cut, gt, rgb)
    assert runs and all(axis == 0 and line == 24 and n >= 24 for axis, line, _, n in runs)
    assert AUDIT["unexplained_straight"](gt, gt, rgb) == []  # a disc's boundary has no 24-px straight run
    square = np.zeros((60, 80), bool)
    square[10:50, 20:60] = True
    assert AUDIT["unexplained_straight"](square, square, rgb) == []  # the object's own straight sides
    photo = rgb.copy()
    photo[25:] += 40  # a photo edge exactly where the cut is
    assert AUDIT["unexplained_straight"](cut, gt, photo) == []


def test_the_command_audits_a_folder(tmp_path, capsys):
    data = simple_folder(tmp_path / "objects", 2, seed=3)
    ckpt = tmp_path / "r.pt"
    save_checkpoint(ckpt, random_model("efficientnet_lite0"))
    out = tmp_path / "audit.json"
    assert AUDIT["main"](["--data", str(data), "--limit", "2", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 objects" in text and all(k in text for k in AUDIT["CHECKS"])
    flagged = json.loads(out.read_text())
    assert isinstance(flagged, list) and all(set(r) == {"image", "object", "area", "steps"} for r in flagged)
    assert AUDIT["main"](["--data", str(data), "--limit", "1", "--checkpoint", str(ckpt), "--refine-method",
                          "grabcut"]) == 0  # Model -> Refine with GrabCut audited instead
    assert "1 objects" in capsys.readouterr().out
