"""Click discs (`models.clicks.disc_pixels`): where discs of both sides overlap, each pixel takes its nearest
click's side, in f-BRS, GrabCut's seeds, edge snapping and colour refinement alike."""
import numpy as np
import pytest

from models.checkpoint import save_checkpoint
from models.clicks import Click, click_discs, disc_pixels, discs_overlap, paint_discs
from models.predictor import Predictor
from tests.models.helpers import random_model
from tests.models.test_predictor import scene


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "r18.pt"
    save_checkpoint(path, random_model())
    return path


def _circles(clicks, h, w, radius):
    """The old drawing: each click's OpenCV disc, painted one after the other (the later wins)."""
    import cv2

    side = np.full((h, w), -1, np.int8)
    for c in clicks:
        cv2.circle(side, c.pixel(), radius, int(c.positive), thickness=-1)
    return side


def test_disc_pixels_of_one_side_are_the_opencv_discs():
    clicks = [Click(10, 12, True), Click(14, 13, True), Click(40, 3, True), Click(-2, 20, True)]
    ys, xs, is_pos = disc_pixels(clicks, 30, 50, 5)
    got = np.full((30, 50), -1, np.int8)
    got[ys, xs] = is_pos
    assert np.array_equal(got, _circles(clicks, 30, 50, 5)) and is_pos.all()
    flat = ys * 50 + xs
    assert np.all(np.diff(flat) > 0)  # each pixel once, row-major


@pytest.mark.parametrize("first_positive", [True, False])
def test_overlapping_discs_give_each_pixel_to_its_nearest_click(first_positive):
    """A click two pixels from a click of the other side keeps its own pixel, whichever came first (drawn one
    after the other, the later disc took the earlier click's pixel: a positive click left unselected)."""
    a, b = Click(10, 10, first_positive), Click(12, 10, not first_positive)
    ys, xs, is_pos = disc_pixels([a, b], 25, 25, 5)
    side = np.full((25, 25), -1, np.int8)
    side[ys, xs] = is_pos
    assert side[10, 10] == int(a.positive) and side[10, 12] == int(b.positive)
    assert side[10, 11] == int(b.positive)  # equally near: the later click
    assert side[10, 7] == int(a.positive) and side[10, 15] == int(b.positive)
    assert _circles([a, b], 25, 25, 5)[10, 10] == int(b.positive)  # what the old drawing did
    for y, x in zip(ys, xs):  # every pixel on the side of the nearer click (the later one on a tie)
        da, db = (x - 10) ** 2 + (y - 10) ** 2, (x - 12) ** 2 + (y - 10) ** 2
        assert side[y, x] == int(a.positive if da < db else b.positive)
    pos, neg = click_discs([a, b], 25, 25, 5)
    assert not (pos & neg).any() and (pos | neg).sum() == len(ys)



@pytest.mark.parametrize("seed", range(6))
def test_paint_discs_is_disc_pixels_with_or_without_overlap(seed):
    """paint_discs draws OpenCV circles when no discs of both sides can meet, else the sorted pixels: the same."""
    rng = np.random.default_rng(seed)
    spread = 12 if seed % 2 else 80  # crowded, or on a grid of cells 20 px apart (discs of both sides apart)
    if seed % 2:
        clicks = [Click(float(rng.integers(-3, spread)), float(rng.integers(-3, spread)), bool(rng.random() < 0.6))
                  for _ in range(int(rng.integers(2, 12)))]
    else:
        cells = rng.choice(16, size=int(rng.integers(1, 9)), replace=False)
        clicks = [Click(float(c % 4 * 20 + rng.integers(-1, 8)), float(c // 4 * 20 + rng.integers(-1, 8)),
                        bool(rng.random() < 0.6)) for c in cells]
    assert discs_overlap(clicks, 4) == bool(seed % 2) or len({c.positive for c in clicks}) == 1
    got = paint_discs(np.full((spread, spread), 0.5, np.float32), clicks, 4, 1.0, 0.0)
    want = np.full((spread, spread), 0.5, np.float32)
    ys, xs, is_pos = disc_pixels(clicks, spread, spread, 4)
    want[ys, xs] = is_pos
    assert np.array_equal(got, want)


def test_discs_overlap():
    assert not discs_overlap([Click(0, 0, True), Click(5, 0, True)], 5)  # one side
    assert discs_overlap([Click(0, 0, True), Click(10, 0, False)], 5)    # touching at x = 5
    assert not discs_overlap([Click(0, 0, True), Click(11, 0, False)], 5)
    assert not discs_overlap([], 5)

def test_disc_pixels_clip_centres():
    ys, xs, _ = disc_pixels([Click(-1, 10, False)], 20, 20, 2)
    assert xs.max() == 1 and len(xs) < 13  # the disc's part inside the image only
    assert len(disc_pixels([Click(-3, 10, False)], 20, 20, 2)[0]) == 0
    ys, xs, _ = disc_pixels([Click(-3, 10, False)], 20, 20, 2, clip_centres=True)
    assert xs.max() == 2 and (0, 10) in set(zip(xs.tolist(), ys.tolist()))
    assert len(disc_pixels([Click(-30, 10, False)], 20, 20, 2)[0]) == 0
    assert len(disc_pixels([], 20, 20, 2)[0]) == 0


@pytest.mark.parametrize("method", ["colour", "grabcut"])
@pytest.mark.parametrize("negative_last", [True, False])
def test_a_click_beside_a_click_of_the_other_side_keeps_its_own_pixel(checkpoint, method, negative_last):
    """A corrective click 2 px from a click of the other side (crowded clicks on a small object's sliver): the mask
    holds every positive click's pixel and no negative click's, after snapping and after refinement (the discs
    were drawn one after the other, so the later click's disc took the earlier click's own pixel)."""
    img, mask = scene()
    p = Predictor.load(checkpoint, device="cpu", refine_method=method)
    p.set_image(img)
    pair = [Click(80, 60, True), Click(82, 60, False)]
    clicks = [Click(70, 50, True)] + (pair if negative_last else pair[::-1])
    for refine in (False, True):
        m = p.predict(clicks, refine=refine) >= 0.5
        assert all(m[c.pixel()[1], c.pixel()[0]] == c.positive for c in clicks), (refine, method)
