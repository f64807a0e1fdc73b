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
    assert fresh[2] != fresh[1]  # a new crop for the grown box (64 px instead of 56)
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


def test_every_zoomed_click_gives_the_network_one_input_size(checkpoint):
    """Crops are squares padded to the target's size: an engine compiles one graph for all of them, whatever
    the object's shape or place (near the image's edge the square is moved inside, not cut)."""
    img = np.zeros((240, 320, 3), np.uint8)
    p = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn(target=200, min_crop=40), snap=None)
    p.set_image(img)
    seen = []
    for (x0, y0, x1, y1) in ((100, 110, 160, 130), (0, 0, 12, 40), (290, 200, 320, 240), (150, 20, 158, 90)):
        obj = np.zeros((240, 320), bool)
        obj[y0:y1, x0:x1] = True
        shapes = _fixed_prob(p, obj)
        clicks = [Click((x0 + x1) // 2, (y0 + y1) // 2, True), Click(x0 + 1, y0 + 1, True)]
        p.predict(clicks)
        roi = p._rois[tuple(clicks)]
        assert roi[2] - roi[0] == roi[3] - roi[1] >= 40  # square, at least min_crop
        assert 0 <= roi[0] and roi[2] <= 320 and 0 <= roi[1] and roi[3] <= 240  # inside the image
        assert roi[0] <= x0 and roi[2] >= x1 and roi[1] <= y0 and roi[3] >= y1  # the whole object
        seen += shapes
    assert set(seen) == {(240, 320), (224, 224)}  # the whole image, and every zoomed crop padded to one size
