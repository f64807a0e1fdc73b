"""ZoomIn.keep_iou: the zoom-in crop stays put from click to click while the object's box still fits it
(RITM's recompute threshold), so the network sees the same view and earlier corrections stay in it."""
import numpy as np
import pytest

from models.checkpoint import save_checkpoint
from models.metrics import box_iou
from models.predictor import Click, Predictor, ZoomIn
from tests.models.helpers import random_model
from tests.models.test_predictor import _fixed_prob


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "r18.pt"
    save_checkpoint(path, random_model())
    return path


def _run(checkpoint, keep: float, third: Click) -> list[tuple[int, int, int, int] | None]:
    """Crops of three clicks on a 40 x 30 object whose predicted mask grows after the first crop."""
    img = np.zeros((200, 300, 3), np.uint8)
    obj = np.zeros((200, 300), bool)
    obj[80:110, 140:180] = True
    p = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn(keep_iou=keep), snap=None)
    p.set_image(img)
    _fixed_prob(p, obj)
    clicks = [Click(150, 90, True)]
    p.predict(clicks)
    obj[78:112, 138:184] = True  # the network now selects a little more (still inside the first crop)
    clicks.append(Click(170, 100, True))
    p.predict(clicks)
    clicks.append(third)
    p.predict(clicks)
    return [p._rois.get(tuple(clicks[:k])) for k in (1, 2, 3)]


def test_the_crop_is_kept_while_the_box_overlaps_it(checkpoint):
    fresh = _run(checkpoint, 0.0, Click(160, 95, True))
    kept = _run(checkpoint, 0.5, Click(160, 95, True))
    assert fresh[0] is None and kept[0] is None  # the first click sees the whole image
    assert fresh[1] == kept[1]
    assert fresh[2] != fresh[1]  # a new crop for the grown box (64 x 48 instead of 56 x 42)
    assert box_iou(fresh[2], fresh[1]) >= 0.5
    assert kept[2] == kept[1]  # kept: the same view as for the click before


def test_a_positive_click_outside_the_kept_crop_moves_it_and_a_negative_one_does_not(checkpoint):
    x0, y0, x1, y1 = _run(checkpoint, 0.5, Click(160, 95, True))[1]
    moved = _run(checkpoint, 0.5, Click(x1 + 2, 95, True))
    assert moved[2] != moved[1] and moved[2][2] > x1 + 2
    stays = _run(checkpoint, 0.5, Click(x1 + 2, 95, False))
    assert stays[2] == stays[1]


def test_box_iou_and_the_setting_is_checked():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    with pytest.raises(ValueError):
        ZoomIn(keep_iou=1.5)
