"""Edge snapping (models.edge_snap): the guided filter's maths, what snapping does to a boundary, and its use
in the predictor."""
from __future__ import annotations

import numpy as np
import pytest

from models.clicks import Click
from models.edge_snap import FLAT, EdgeSnap, guided_filter, snap, transition_box


def _reference(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s colour guided filter written plainly in float64 (box means by cumulative sums, np.linalg.inv),
    with the same reflected border."""
    img = guide.astype(np.float64) / 255.0
    p = p.astype(np.float64)
    pad = lambda x: np.pad(x, [(r, r), (r, r)] + [(0, 0)] * (x.ndim - 2), mode="symmetric")  # noqa: E731

    def box(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[:2]
        c = np.cumsum(np.cumsum(pad(x), 0), 1)
        c = np.pad(c, [(1, 0), (1, 0)] + [(0, 0)] * (x.ndim - 2))
        k = 2 * r + 1
        return (c[k:k + h, k:k + w] - c[:h, k:k + w] - c[k:k + h, :w] + c[:h, :w]) / (k * k)

    m, mp = box(img), box(p)
    cov = box(img * p[..., None]) - m * mp[..., None]
    sig = box(img[..., :, None] * img[..., None, :]) - m[..., :, None] * m[..., None, :] + eps * np.eye(3)
    a = np.einsum("...ij,...j->...i", np.linalg.inv(sig), cov)
    b = mp - (a * m).sum(-1)
    return (box(a) * img).sum(-1) + box(b)


def _two_colours(h: int = 60, w: int = 80, edge: int = 40) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :edge] = (200, 40, 30)
    img[:, edge:] = (40, 60, 190)
    return img


def test_guided_filter_matches_the_plain_formula():
    rng = np.random.default_rng(0)
    guide = rng.integers(0, 256, (37, 45, 3), dtype=np.uint8)
    p = rng.random((37, 45)).astype(np.float32)
    for r, eps in ((2, 1e-3), (4, 1e-2)):
        assert np.abs(guided_filter(guide, p, r, eps) - _reference(guide, p, r, eps)).max() < 1e-4


def test_a_flat_probability_comes_back_unchanged():
    guide = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = guided_filter(guide, np.full((40, 50), 0.3, np.float32), 8, 1e-3)
    assert np.abs(out - 0.3).max() < 1e-4


def test_a_blurred_boundary_moves_onto_the_colour_edge():
    """The network's boundary 6 px right of the true edge and smeared over ~16 px (what bilinear upsampling of a
    stride-8 logit map gives) moves towards the edge and becomes sharp there (one pass of a local filter moves
    it part of the way: the windows that reach the edge)."""
    img = _two_colours()
    x = np.arange(img.shape[1], dtype=np.float32)
    prob = np.tile(1.0 / (1.0 + np.exp((x - 46.0) / 4.0)), (img.shape[0], 1)).astype(np.float32)
    before = (prob >= 0.5).sum(axis=1)
    out = snap(img, prob, [Click(10, 30, True)])
    after = (out >= 0.5).sum(axis=1)
    assert (before == 47).all()  # x <= 46
    assert (after <= 44).all() and (after >= 40).all(), after
    # the probability now drops at the colour edge (between x = 39 and 40), where the network's fell smoothly
    assert (prob[:, 39] - prob[:, 40] < 0.05).all() and (out[:, 39] - out[:, 40] > 0.25).all()
    assert out[:, :40].min() > 0.9


def test_snapping_does_not_follow_noise_weaker_than_eps():
    """Colour texture well below eps leaves a smooth boundary where it is (no ragged mask on grain)."""
    rng = np.random.default_rng(2)
    img = np.clip(128 + rng.normal(0, 2, (60, 80, 3)), 0, 255).astype(np.uint8)
    x = np.arange(80, dtype=np.float32)
    prob = np.tile(1.0 / (1.0 + np.exp((x - 40.0) / 4.0)), (60, 1)).astype(np.float32)
    mask = snap(img, prob, [], EdgeSnap(radius=8, eps=1e-2)) >= 0.5
    assert (np.abs(mask.sum(axis=1) - 40) <= 2).all()


def test_clicks_keep_their_side():
    img = _two_colours()
    prob = np.zeros(img.shape[:2], np.float32)
    prob[:, :20] = 1.0
    out = snap(img, prob, [Click(60, 30, True), Click(5, 5, False)], EdgeSnap(click_radius=3))
    yy, xx = np.mgrid[:60, :80]
    assert out[np.hypot(xx - 60, yy - 30) <= 2.5].min() == 1.0
    assert out[np.hypot(xx - 5, yy - 5) <= 2.5].max() == 0.0


def test_only_the_transition_band_is_filtered():
    assert transition_box(np.zeros((30, 40), np.float32), 5) is None
    binary = np.zeros((30, 40), np.float32)
    binary[10:20, 10:20] = 1.0
    assert transition_box(binary, 5) is None
    assert np.array_equal(snap(_two_colours(30, 40, 20), binary, []), binary)  # nothing uncertain: unchanged
    soft = binary.copy()
    soft[12, 15] = 0.5
    assert transition_box(soft, 3) == (9, 16, 12, 19)
    assert transition_box(soft, 100) == (0, 30, 0, 40)  # clipped to the image


def test_the_box_gives_the_whole_image_filter_where_it_matters():
    """Filtering the band's box only equals filtering everything, up to FLAT, away from the box's cut edges."""
    img = np.random.default_rng(3).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:90, :120]
    prob = (1.0 / (1.0 + np.exp((np.hypot(xx - 40, yy - 40) - 15) / 3.0))).astype(np.float32)
    s = EdgeSnap(radius=4, eps=1e-3, passes=1, subsample=1)  # the exact filter
    full = np.clip(guided_filter(img, prob, s.radius, s.eps), 0, 1)
    part = snap(img, prob, [], s)
    assert np.abs(part - full).max() <= 2 * FLAT


def test_empty_and_degenerate_inputs():
    img = np.zeros((1, 1, 3), np.uint8)
    assert snap(img, np.array([[0.5]], np.float32), []).shape == (1, 1)
    grey = np.full((20, 20, 3), 90, np.uint8)  # no colour variance at all: eps keeps the inverse finite
    out = snap(grey, np.linspace(0, 1, 400, dtype=np.float32).reshape(20, 20), [])
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


@pytest.fixture(scope="module")
def model():
    from models.fcn import build_ifcn
    from models.spec import ModelSpec

    return build_ifcn(ModelSpec(backbone="efficientnet_lite0"), weights=None).eval()


def test_the_predictor_snaps_and_says_so(model):
    from models.predictor import Predictor

    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    with_snap = Predictor(model, device="cpu", brs=None)
    without = Predictor(model, device="cpu", brs=None, snap=None)
    assert with_snap.info()["snap"] and not without.info()["snap"]
    # a random network's output is near flat: give it a visible ramp to snap
    for p in (with_snap, without):
        p.set_image(img)
        p._network_prob = lambda wc, _w=80: np.tile(np.linspace(1, 0, _w, dtype=np.float32), (64, 1))
    clicks = [Click(5, 30, True)]
    a, b = with_snap.predict(clicks), without.predict(clicks)
    assert "snap" in with_snap.last_timings and "snap" not in without.last_timings
    assert not np.allclose(a, b)
    expected = snap(img, np.tile(np.linspace(1, 0, 80, dtype=np.float32), (64, 1)), clicks)
    assert np.allclose(a, expected, atol=1e-6)
    assert np.allclose(b[:, 20:], np.tile(np.linspace(1, 0, 80, dtype=np.float32), (64, 1))[:, 20:])


def test_a_second_pass_moves_the_boundary_further_onto_the_edge():
    img = _two_colours()
    x = np.arange(img.shape[1], dtype=np.float32)
    prob = np.tile(1.0 / (1.0 + np.exp((x - 46.0) / 4.0)), (img.shape[0], 1)).astype(np.float32)
    one = (snap(img, prob, [], EdgeSnap(passes=1)) >= 0.5).sum(axis=1)
    two = (snap(img, prob, [], EdgeSnap(passes=2)) >= 0.5).sum(axis=1)
    assert (two < one).all() and (two >= 40).all()


def test_settings_are_checked():
    for bad in ({"radius": 0}, {"eps": 0.0}, {"passes": 0}, {"click_radius": -1}, {"subsample": 0},
                {"subsample": 9}):
        with pytest.raises(ValueError):
            EdgeSnap(**bad)


def test_refinement_runs_fewer_grabcut_iterations_on_a_snapped_prediction(model, monkeypatch):
    """GrabCut refines a snapped prediction in grabcut.REFINE_ITERATIONS (2) iterations; with snapping off the
    measured 5 (grabcut.UNSNAPPED_ITERATIONS) stay."""
    import cv2

    from models import grabcut
    from models.predictor import Predictor

    seen = []
    real = cv2.grabCut
    monkeypatch.setattr(cv2, "grabCut", lambda img, mask, *a: (seen.append(a[-2]), real(img, mask, *a))[1])
    img = np.random.default_rng(5).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    ramp = np.tile(np.linspace(1, 0, 80, dtype=np.float32), (64, 1))
    for snap_setting, iterations in ((EdgeSnap(), grabcut.REFINE_ITERATIONS), (None, grabcut.UNSNAPPED_ITERATIONS)):
        p = Predictor(model, device="cpu", brs=None, snap=snap_setting, refine_method="grabcut")
        p.set_image(img)
        p._network_prob = lambda wc: ramp
        seen.clear()
        p.predict([Click(5, 30, True)], refine=True)
        assert seen and set(seen) == {iterations}
    assert grabcut.REFINE_ITERATIONS == 2 and grabcut.UNSNAPPED_ITERATIONS == 5


def test_the_refinement_stage_reuses_the_previews_snapped_prediction(model):
    """The annotator asks for the preview, then for the refined mask of the same clicks: the second request runs
    neither the network nor the snapping again, and gets the same snapped prediction into GrabCut."""
    from models.predictor import Predictor

    img = np.random.default_rng(6).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    p = Predictor(model, device="cpu", brs=None)
    p.set_image(img)
    ramp = np.tile(np.linspace(1, 0, 80, dtype=np.float32), (64, 1))
    p._network_prob = lambda wc: ramp
    clicks = [Click(5, 30, True)]
    first = p.predict(clicks)
    assert "snap" in p.last_timings
    first[:] = 0.5  # the caller's copy: scribbling on it changes nothing remembered
    again = p.predict(clicks)
    assert "snap" not in p.last_timings and np.array_equal(again, snap(img, ramp, clicks))
    p.predict(clicks, refine=True)
    assert "snap" not in p.last_timings and "refine" in p.last_timings
    p._network_prob = lambda wc: ramp.copy()  # a new network output (e.g. after forget()): snapped again
    p.predict(clicks)
    assert "snap" in p.last_timings
    p.predict([Click(6, 30, True)])
    assert "snap" in p.last_timings


def test_guide_statistics_are_computed_once_and_change_nothing():
    """`GuideStats` holds what the filter needs of the guide alone: filtering several sources (snapping's passes)
    with one set of statistics gives bit for bit what separate `guided_filter` calls give."""
    from models.edge_snap import GuideStats

    rng = np.random.default_rng(11)
    guide = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    stats = GuideStats.of(guide, 4, 1e-3)
    q = rng.random((40, 56)).astype(np.float32)
    for _ in range(3):
        want = guided_filter(guide, q, 4, 1e-3)
        got = stats.filter(q)
        assert np.array_equal(got, want)
        q = np.clip(got, 0.0, 1.0)
    ramp = np.tile(np.linspace(1, 0, 56, dtype=np.float32), (40, 1))
    two = snap(guide, ramp, [], EdgeSnap(radius=4, passes=2, subsample=1))
    box = transition_box(ramp, (2 * 4 + 1) * 2)
    assert box == (0, 40, 0, 56)
    by_hand = np.clip(guided_filter(guide, np.clip(guided_filter(guide, ramp, 4, 1e-3), 0, 1), 4, 1e-3), 0, 1)
    assert np.array_equal(two, by_hand)


def test_a_photos_cached_statistics_snap_like_the_crops_own():
    """The predictor keeps one `GuideCache` per photo: snapping with its whole-photo statistics (computed once,
    then cropped) gives what statistics of the crop alone give (the same mask; probabilities within float
    rounding, as the windows at the crop's edge see the photo instead of its reflection where the probability
    is flat), and a second click reuses them."""
    from models.edge_snap import GuideCache, GuideStats

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:120, :160]
    inside = (yy - 60) ** 2 / 900 + (xx - 70) ** 2 / 1600 < 1
    rgb = np.where(inside[..., None], (190, 60, 40), (60, 90, 170)).astype(np.int16)
    rgb = np.clip(rgb + rng.integers(-25, 26, rgb.shape), 0, 255).astype(np.uint8)
    prob = np.clip(1.3 - np.hypot((yy - 62) / 32, (xx - 68) / 42), 0, 1).astype(np.float32)
    prob[prob < 0.05] = 0.0
    cache = GuideCache(rgb)
    clicks = [Click(70, 60, True), Click(150, 10, False)]
    exact = EdgeSnap(subsample=1)
    for k in range(2):
        want = snap(rgb, prob, clicks, exact)
        got = snap(rgb, prob, clicks, exact, cache=cache)
        assert np.abs(got - want).max() < 1e-5
        assert np.array_equal(got >= 0.5, want >= 0.5)
        assert len(cache._stats) == 1
        prob = np.roll(prob, 5, axis=1)
    whole = cache.stats(8, 1e-3)
    assert cache.stats(8, 1e-3) is whole  # computed once
    cut = whole.crop(10, 90, 20, 130)
    src = rng.random((80, 110)).astype(np.float32)
    inner = (slice(17, -17), slice(17, -17))  # beyond two radii of the crop's edges nothing differs
    np.testing.assert_allclose(cut.filter(src)[inner], GuideStats.of(rgb[10:90, 20:130], 8, 1e-3).filter(src)[inner],
                               atol=1e-5)


def test_the_predictor_keeps_one_guide_cache_per_photo(model):
    """The predictor's GuideCache belongs to the photo it was set with: the next photo gets its own (a stale one
    would snap the new photo's probability onto the old photo's edges), and its snapped prediction is what
    snapping that photo alone gives."""
    from models.predictor import Predictor

    p = Predictor(model, device="cpu", brs=None)
    rng = np.random.default_rng(8)
    ramp = np.tile(np.linspace(1, 0, 80, dtype=np.float32), (64, 1))
    caches = []
    for _ in range(2):
        img = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
        p.set_image(img)
        p._network_prob = lambda wc: ramp
        clicks = [Click(5, 30, True)]
        got = p.predict(clicks)
        assert p._guide.rgb is p._work and len(p._guide._stats) == 2  # snapping's and colour refinement's
        assert np.abs(got - snap(img, ramp, clicks)).max() < 1e-5
        caches.append(p._guide)
    assert caches[0] is not caches[1]


def test_the_fast_filter_moves_a_blurred_boundary_onto_the_edge_as_the_full_one():
    """He & Sun's fast guided filter (`subsample` 2): the boundary of the blurred-boundary test lands on the
    colour edge as with the full-resolution filter (within a pixel), for an edge at an odd column and a crop that
    starts at an odd row and column."""
    for edge in (40, 41):
        img = _two_colours(61, 83, edge)
        x = np.arange(img.shape[1], dtype=np.float32)
        prob = np.tile(1.0 / (1.0 + np.exp((x - edge - 6.0) / 4.0)), (img.shape[0], 1)).astype(np.float32)
        prob[:7] = 0.0  # the transition band (so the filtered box) starts at row 7
        full = snap(img, prob, [Click(10, 30, True)], EdgeSnap()) >= 0.5
        fast = snap(img, prob, [Click(10, 30, True)], EdgeSnap(subsample=2)) >= 0.5
        assert np.abs(fast[8:].sum(axis=1) - full[8:].sum(axis=1)).max() <= 1
        assert (np.abs(fast[8:].sum(axis=1) - edge) <= 3).all()


def test_the_fast_filter_stays_close_to_the_full_one_on_a_photo_like_scene():
    """On a textured scene with a smooth blob the fast filter's probability differs from the full filter's by
    little, and the masks agree on nearly every pixel."""
    from models.edge_snap import GuideCache

    rng = np.random.default_rng(3)
    h, w = 120, 150
    yy, xx = np.mgrid[:h, :w]
    img = np.clip(np.stack([100 + 60 * np.sin(xx / 9.0), 90 + 50 * np.cos(yy / 7.0), 120 + 0 * xx], -1)
                  + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    blob = ((xx - 70) ** 2 / 900.0 + (yy - 60) ** 2 / 500.0) < 1.0
    img[blob] = (210, 180, 60)
    d = np.sqrt((xx - 70) ** 2 / 900.0 + (yy - 60) ** 2 / 500.0)
    prob = (1.0 / (1.0 + np.exp((d - 1.15) * 12.0))).astype(np.float32)
    full = snap(img, prob, [], EdgeSnap(), GuideCache(img))
    fast = snap(img, prob, [], EdgeSnap(subsample=2), GuideCache(img))
    assert ((full >= 0.5) != (fast >= 0.5)).mean() < 0.01
    assert np.abs(full - fast).mean() < 0.02
    iou = lambda m: (m & blob).sum() / (m | blob).sum()  # noqa: E731
    assert iou(fast >= 0.5) > 0.9 and abs(iou(fast >= 0.5) - iou(full >= 0.5)) < 0.02


def test_a_photos_statistics_are_ready_before_its_first_click(model):
    """Setting an image computes what snapping and colour refinement read of the photo alone, so the first click
    finds them (it adds nothing to the cache), and they are those the functions would compute."""
    from models.colour_refine import ColourRefine, colour_index
    from models.predictor import Predictor

    img = _two_colours(96, 128, 60)
    p = Predictor(model, device="cpu", brs=None)
    p.set_image(img)
    stats, derived = dict(p._guide._stats), set(p._guide._derived)
    assert stats and ("colour_index", ColourRefine().bins) in derived
    p.predict([Click(30, 40, True)], refine=True)
    assert p._guide._stats.keys() == stats.keys() and set(p._guide._derived) == derived
    np.testing.assert_array_equal(p._guide._derived[("colour_index", ColourRefine().bins)],
                                  colour_index(img, ColourRefine().bins))


def test_the_upsampling_pass_is_the_fast_filter_on_the_photos_own_pixels():
    """`upsampling_pass` (the full-resolution pass, reading the uint8 photo channel by channel) computes what
    `fast_guided_pass` does with the photo's float planes."""
    from models.edge_snap import GuideCache, _low_stats, fast_guided_pass, upsampling_pass

    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (61, 83, 3), dtype=np.uint8)
    prob = rng.random((61, 83)).astype(np.float32)
    cache = GuideCache(img)
    for s in (1, 2, 3):
        low = _low_stats(cache, EdgeSnap(radius=6, subsample=s))
        np.testing.assert_allclose(upsampling_pass(low, img, prob), fast_guided_pass(low, cache.channels(), prob),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale,fit", [(1.25, None), (2.0, None), (4.0, None), (2.0, 4.0), (4.0, 8.0)])
def test_the_full_resolution_pass_puts_an_upscaled_boundary_on_the_photos_edge(scale, fit):
    """A working-resolution probability whose boundary lies a few photo pixels off the photo's edge (what an
    upscaled mask of a large photo looks like) ends on the edge itself after `snap_full_res`, also with its
    coefficients fitted at the network's coarser scale (`fit_scale`, the predictor's with a 1024-px working
    image)."""
    import cv2

    from models.edge_snap import FULL_RES_CLICK_RADIUS, full_res_settings, snap_full_res

    img = _two_colours(240, 320, 163)
    wh, ww = round(240 / scale), round(320 / scale)
    x = (np.arange(ww, dtype=np.float32) + 0.5) * scale - 0.5  # photo column of each working pixel
    off = 2.0 * scale  # the working-resolution boundary: 2 working pixels off the photo's edge
    work = np.tile(1.0 / (1.0 + np.exp((x - 163.0 - off) / (1.5 * scale))), (wh, 1)).astype(np.float32)
    up = cv2.resize(work, (320, 240), interpolation=cv2.INTER_LINEAR)
    assert (np.abs((up >= 0.5).sum(axis=1) - 163) >= off - 1).all()
    out = snap_full_res(img, up, [Click(20, 120, True)], scale, fit_scale=fit)
    assert (np.abs((out >= 0.5).sum(axis=1) - 163) <= 1).all()
    assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
    st = full_res_settings(scale, fit_scale=fit)
    assert st.passes == 1 and st.subsample == max(1, round(fit or scale)) and st.click_radius == FULL_RES_CLICK_RADIUS
    assert st.radius == max(st.subsample, round(8 / 2 * scale))
    assert out[120, 20] == 1.0 and (snap_full_res(img, up, [Click(300, 5, True)], scale, fit_scale=fit)[5, 300] == 1.0)


def test_the_predictor_snaps_a_large_photo_at_its_own_resolution(model):
    """A photo larger than the working image: predict() puts the upscaled probability on the photo's edges
    (timed as full_res); full_res=False, snapping off or a photo within max_size keep the plain upscaling."""
    import cv2

    from models.edge_snap import snap_full_res
    from models.predictor import Predictor

    big = _two_colours(300, 400, 203)
    ramp = lambda wc, _w=256: np.tile(np.linspace(1, 0, _w, dtype=np.float32), (192, 1))  # noqa: E731
    made = {}
    for name, kw in (("on", {}), ("off", {"full_res": False}), ("nosnap", {"snap": None})):
        p = made[name] = Predictor(model, device="cpu", brs=None, max_size=256, **kw)
        p.set_image(big)
        p._network_prob = ramp
    clicks = [Click(20, 150, True)]
    on, off, nosnap = (made[k].predict(clicks) for k in ("on", "off", "nosnap"))
    assert "full_res" in made["on"].last_timings
    assert "full_res" not in made["off"].last_timings and "full_res" not in made["nosnap"].last_timings
    work = made["off"].predict_work(clicks)
    np.testing.assert_allclose(off, np.clip(cv2.resize(work, (400, 300), interpolation=cv2.INTER_LINEAR), 0, 1))
    np.testing.assert_allclose(on, snap_full_res(big, cv2.resize(work, (400, 300), interpolation=cv2.INTER_LINEAR),
                                                 clicks, 400 / 256), atol=1e-6)
    assert not np.allclose(on, off)
    small = Predictor(model, device="cpu", brs=None, max_size=512)
    small.set_image(big)
    small._network_prob = lambda wc: np.tile(np.linspace(1, 0, 400, dtype=np.float32), (300, 1))
    small.predict(clicks)
    assert "full_res" not in small.last_timings
