import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import ndimage

from models.clicks import Click, distance_map, distance_maps, validate_clicks


def test_zero_at_click_and_capped():
    d = distance_map([(3, 5)], 20, 300)
    assert d[5, 3] == 0.0
    assert d[5, 4] == pytest.approx(1.0)
    assert d[6, 4] == pytest.approx(np.sqrt(2), rel=1e-5)
    assert d.max() == 255.0
    assert d[5, 299] == 255.0  # 296 px away, truncated


def test_mapped_keeps_pixel_centres():
    """A click maps onto a resized (and cropped) image centre to centre, whatever the scale."""
    c = Click(3.0, 1.0, False)
    assert c.mapped(2.0, 0.5) == Click(6.5, 0.25, False)  # pixel 3 of 10 covers 6..8 of 20: centre 6.5
    assert c.mapped(1.0, 1.0) == c
    assert Click(12.0, 7.0).mapped(4.0, 4.0, x0=10, y0=5) == Click(9.5, 9.5)
    assert Click(0.0, 0.0).mapped(3.0, 3.0).pixel() == (1, 1)  # the centre of the 3x3 block of pixel 0


def test_empty_set_is_255_everywhere():
    maps = distance_maps([Click(2, 2, True)], 10, 12)
    assert maps.shape == (2, 10, 12) and maps.dtype == np.float32
    assert np.all(maps[1] == 255.0)  # no negative clicks
    assert maps[0, 2, 2] == 0.0


def test_positive_and_negative_channels():
    maps = distance_maps([Click(1, 1, True), Click(8, 6, False)], 10, 10)
    assert maps[0, 1, 1] == 0 and maps[1, 6, 8] == 0
    assert maps[0, 6, 8] > 0 and maps[1, 1, 1] > 0


@settings(max_examples=40, deadline=None)
@given(st.integers(5, 40), st.integers(5, 40),
       st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=6))
def test_matches_scipy_exact_edt(h, w, pts):
    xy = [(int(fx * (w - 1)), int(fy * (h - 1))) for fx, fy in pts]
    ours = distance_map(xy, h, w, clamp=1e6)
    src = np.ones((h, w), bool)
    for x, y in xy:
        src[y, x] = False
    ref = ndimage.distance_transform_edt(src)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_validate_rejects_outside_and_nan():
    validate_clicks([Click(0, 0), Click(9, 4)], 5, 10)
    with pytest.raises(ValueError, match="outside"):
        validate_clicks([Click(10, 0)], 5, 10)
    with pytest.raises(ValueError, match="outside"):
        validate_clicks([Click(-1, 2)], 5, 10)
    with pytest.raises(ValueError, match="finite"):
        validate_clicks([Click(float("nan"), 2)], 5, 10)


def test_distance_map_cache_gives_the_distance_transforms_values():
    """The cache's maps (built one point at a time from a remembered parent, or afresh) equal distance_map's,
    for lists growing, shrinking (undo) and with points outside the image (ignored by both)."""
    from models.clicks import DistanceMapCache, distance_map

    rng = np.random.default_rng(0)
    for _ in range(30):
        h, w = (int(v) for v in rng.integers(3, 300, 2))
        cache = DistanceMapCache(size=8)
        pts: list[tuple[float, float]] = []
        for step in range(10):
            if step == 6:
                pts.pop()  # undo: the shorter list is remembered
            else:
                pts.append((float(rng.uniform(-4, w + 3)), float(rng.uniform(-4, h + 3))))
            got = cache.distance_map(pts, h, w, 255.0)
            np.testing.assert_allclose(got, distance_map(pts, h, w, 255.0), atol=1e-4)
            assert not got.flags.writeable
        assert len(cache._maps) <= 8


def test_distance_map_cache_maps_are_those_of_distance_maps():
    from models.clicks import DistanceMapCache

    clicks = [Click(10, 12, True), Click(40, 5, False), Click(30, 30, True)]
    cache = DistanceMapCache()
    for k in range(1, 4):
        np.testing.assert_allclose(cache.distance_maps(clicks[:k], 50, 60),
                                   distance_maps(clicks[:k], 50, 60), atol=1e-4)
