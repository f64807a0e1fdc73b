import numpy as np
import pytest

from models.clicks import Click
from models.metrics import interior_point, iou, next_click


def test_iou_basic_and_ignore():
    a = np.zeros((4, 4), bool); a[:2] = True
    b = np.zeros((4, 4), bool); b[1:3] = True
    assert iou(a, b) == pytest.approx(4 / 12)
    ign = np.zeros((4, 4), bool); ign[2] = True
    assert iou(a, b, ign) == pytest.approx(4 / 8)
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_interior_point_is_centre_of_rectangle():
    m = np.zeros((21, 31), bool); m[5:16, 10:25] = True  # 11 rows, 15 cols: centre row 10
    x, y = interior_point(m)
    assert y == 10 and 15 <= x <= 19


def test_interior_point_border_counts_as_boundary():
    m = np.ones((11, 11), bool)
    assert interior_point(m) == (5, 5)


def test_next_click_false_negative_region_is_positive():
    gt = np.zeros((30, 30), bool); gt[5:25, 5:25] = True
    pred = np.zeros_like(gt); pred[5:25, 5:12] = True   # missing the right part
    c = next_click(pred, gt)
    assert c.positive and 12 <= c.x < 25 and 5 <= c.y < 25
    assert c == Click(18.0, 11.0, True)  # 7 px from the FN boundary; first such pixel in raster order


def test_next_click_false_positive_is_negative_and_void_ignored():
    gt = np.zeros((30, 30), bool); gt[10:20, 10:20] = True
    pred = gt.copy(); pred[0:8, 0:30] = True
    c = next_click(pred, gt)
    assert not c.positive and c.y < 8
    ignore = np.zeros_like(gt); ignore[0:8] = True
    assert next_click(pred, gt, ignore) is None


def test_next_click_skips_clicked_pixels():
    gt = np.zeros((9, 9), bool); gt[2:7, 2:7] = True
    pred = np.zeros_like(gt)
    first = next_click(pred, gt)
    assert (first.x, first.y) == (4, 4)
    second = next_click(pred, gt, clicked=[first])
    assert (second.x, second.y) != (4, 4) and second.positive


def test_error_region_fixed_measures_the_clicked_error_region():
    """The 8-connected error region holding the click (void left out) and how much of it the next
    prediction has right; a click on no error gives (0, nan)."""
    from models.metrics import error_region_fixed
    gt = np.zeros((40, 60), bool)
    gt[10:30, 10:50] = True
    before = np.zeros_like(gt)
    before[10:30, 10:30] = True            # the right half (20 x 20) is missed
    after = before.copy()
    after[10:30, 30:40] = True             # half of it fixed
    area, frac = error_region_fixed(before, after, gt, None, Click(40, 20, True))
    assert area == 400 and frac == pytest.approx(0.5)
    ignore = np.zeros_like(gt)
    ignore[10:30, 45:50] = True
    area, frac = error_region_fixed(before, after, gt, ignore, Click(40, 20, True))
    assert area == 300 and frac == pytest.approx(200 / 300)
    area, frac = error_region_fixed(before, after, gt, None, Click(20, 20, True))
    assert area == 0 and np.isnan(frac)
