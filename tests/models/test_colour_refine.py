"""Colour refinement (models.colour_refine): the colour models' maths, what the refinement does to a network
prediction (pulls in object-coloured parts, drops background-coloured ones, keeps only clicked parts, never ends
on a crop edge), and its use in the predictor and `ifcn noc`."""
from __future__ import annotations

import numpy as np
import pytest

from models.clicks import Click
from models.colour_refine import ColourRefine, colour_index, colour_log_ratio, fuse, refine
from models.edge_snap import GuideCache
from models.regions import crop_box


def _reference_ratio(rgb: np.ndarray, prob: np.ndarray, bins: int) -> np.ndarray:
    """The histograms counted pixel by pixel in plain Python, in float64."""
    fg, bg = {}, {}
    h, w = prob.shape
    for y in range(h):
        for x in range(w):
            key = tuple(int(v) * bins // 256 for v in rgb[y, x])
            fg[key] = fg.get(key, 0.0) + float(prob[y, x])
            bg[key] = bg.get(key, 0.0) + 1.0 - float(prob[y, x])
    sf, sb = sum(fg.values()), sum(bg.values())
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            key = tuple(int(v) * bins // 256 for v in rgb[y, x])
            out[y, x] = np.log(fg[key] / sf + 1e-6) - np.log(bg[key] / sb + 1e-6)
    return out


def test_colour_log_ratio_matches_a_plain_reference():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)
    prob = rng.random((12, 17)).astype(np.float32)
    for bins in (4, 24):
        np.testing.assert_allclose(colour_log_ratio(rgb, prob, bins), _reference_ratio(rgb, prob, bins),
                                   rtol=1e-5, atol=1e-5)
    idx = colour_index(rgb, 24)
    assert idx.min() >= 0 and idx.max() < 24 ** 3


def test_the_ratio_favours_the_colours_the_network_selected():
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = (200, 30, 30)
    rgb[:, 20:] = (30, 30, 200)
    prob = np.full((20, 40), 0.1, np.float32)
    prob[:, :20] = 0.9
    r = colour_log_ratio(rgb, prob, 24)
    assert (r[:, :20] > 1.0).all() and (r[:, 20:] < -1.0).all()


def _object_scene(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A yellow object on a noisy dark background, 160x160."""
    rng = np.random.default_rng(seed)
    img = (rng.random((160, 160, 3)) * 40 + 20).astype(np.uint8)
    img[20:140, 40:120] = (210, 190, 60)
    return img, np.full((160, 160), 0.02, np.float32)


def test_fuse_pulls_in_the_objects_colour_and_pushes_out_the_backgrounds():
    img, prob = _object_scene()
    prob[20:140, 40:80] = 0.9  # the left half of the object: sure
    prob[20:140, 80:120] = 0.35  # its right half: unsure, below 0.5
    prob[60:100, 0:40] = 0.6  # a background patch the network wrongly took
    out = fuse(img, prob, ColourRefine())
    assert (out[25:135, 85:115] >= 0.5).all()  # the object's colour wins the unsure half
    assert (out[65:95, 5:35] < 0.5).all()  # the background's colour loses the wrong patch
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0


def test_refine_keeps_only_the_clicked_object():
    """Two look-alike objects both selected by the network: only the clicked one stays."""
    rng = np.random.default_rng(2)
    img = (rng.random((120, 200, 3)) * 40 + 20).astype(np.uint8)
    img[30:90, 20:80] = (210, 190, 60)
    img[30:90, 120:180] = (210, 190, 60)
    prob = np.full((120, 200), 0.02, np.float32)
    prob[30:90, 20:80] = 0.95
    prob[30:90, 120:180] = 0.6
    out = refine(img, prob, [Click(50, 60, True)])
    assert (out[32:88, 22:78] >= 0.5).all()
    assert (out[30:90, 120:180] < 0.5).all()


def test_refine_widens_the_crop_instead_of_cutting_the_object():
    """The network saw only the top of a uniform object: the colour growth must not stop at the crop's edge
    (no straight line across the object)."""
    img, prob = _object_scene()
    prob[80:140, 40:120] = 0.3
    prob[20:80, 40:120] = 1.0
    y0, y1, _, _ = crop_box(prob >= 0.5, [Click(80, 35, True)])
    assert y1 < 120  # the first crop ends inside the object
    out = refine(img, prob, [Click(80, 35, True)])
    assert (out[22:138, 42:118] >= 0.5).all()  # the whole object, well past the first crop
    assert (out[145:, :] < 0.5).all() and (out[:, :30] < 0.5).all()


def test_a_growth_that_the_widest_crop_still_cuts_keeps_the_prediction():
    """The object's colour runs on past every crop (a stripe across the photo): the result would end in straight
    crop edges, so the network's prediction stays."""
    rng = np.random.default_rng(4)
    img = (rng.random((300, 300, 3)) * 40 + 20).astype(np.uint8)
    img[140:160, :] = (210, 190, 60)
    prob = np.full((300, 300), 0.02, np.float32)
    prob[140:160, :] = 0.3
    prob[140:160, 130:170] = 0.9
    assert (fuse(img[124:176, 114:186], prob[124:176, 114:186], ColourRefine())[140 - 124:160 - 124] >= 0.5).all()
    out = refine(img, prob, [Click(150, 150, True)])
    assert ((out >= 0.5) == (prob >= 0.5)).all()


def test_where_colour_cannot_tell_the_network_decides():
    """Object and background of one colour: the colour ratio is 0 and the mask at 0.5 is the network's."""
    rng = np.random.default_rng(3)
    img = (rng.random((200, 200, 3)) * 6 + np.array([120, 120, 120])).astype(np.uint8)
    prob = np.full((200, 200), 0.1, np.float32)
    prob[70:130, 70:130] = 0.9
    out = refine(img, prob, [Click(100, 100, True)], ColourRefine(radius=0))
    assert ((out >= 0.5) == (prob >= 0.5)).all()


def test_clicks_stay_on_their_side_and_nothing_without_a_positive_click_in_the_object():
    img, prob = _object_scene()
    prob[20:140, 40:120] = 0.9
    out = refine(img, prob, [Click(80, 80, True), Click(60, 60, False)])
    assert out[80, 80] == 1.0 and out[60, 60] == 0.0 and out[62, 58] == 0.0
    # the positive click lies outside anything selected: the network's prediction is returned (with its disc)
    far = refine(img, prob, [Click(10, 150, True)])
    assert far[150, 10] == 1.0
    assert ((far >= 0.5) == (prob >= 0.5))[20:140, 40:120].all()


def test_a_click_on_a_small_objects_edge_does_not_paint_a_disc_of_background_into_it():
    """The oracle's (and a user's) corrective clicks on a small object lie in thin slivers at its boundary: the
    disc set to the click's side must not spill far across it (f-BRS's 5-px disc costs such objects their last
    IoU points, MODEL_CARD "Click discs of the refinement")."""
    from models.metrics import iou

    rng = np.random.default_rng(3)
    img = (rng.random((80, 80, 3)) * 40 + 20).astype(np.uint8)
    img[33:47, 33:47] = (210, 190, 60)  # a 14 x 14 object
    gt = np.zeros((80, 80), bool)
    gt[33:47, 33:47] = True
    prob = np.where(gt, 0.9, 0.02).astype(np.float32)
    prob[33:47, 46 - 2:47] = 0.3  # the network missed a 2-px sliver on the right
    clicks = [Click(40, 40, True), Click(45, 40, True)]  # the corrective click in the sliver
    out = refine(img, prob, clicks)
    assert out[40, 45] == 1.0
    assert iou(out >= 0.5, gt) >= 0.9
    assert iou(refine(img, prob, clicks, ColourRefine(click_radius=5)) >= 0.5, gt) < iou(out >= 0.5, gt)


def test_settings_are_checked():
    for bad in (dict(bins=1), dict(alpha=-1), dict(eps=0), dict(margins=()), dict(radius=-1)):
        with pytest.raises(ValueError):
            ColourRefine(**bad)


@pytest.fixture(scope="module")
def model():
    from models.fcn import build_ifcn
    from models.spec import ModelSpec

    return build_ifcn(ModelSpec(backbone="efficientnet_lite0"), weights=None).eval()


def test_predictor_refines_with_colour_by_default_and_grabcut_on_request(model):
    from models.errors import IFCNError
    from models.predictor import Predictor

    img, _ = _object_scene()
    p = Predictor(model, device="cpu", brs=None)
    assert p.refine_method == "colour" and p.info()["refine_method"] == "colour"
    p.set_image(img)
    ramp = np.zeros((160, 160), np.float32)
    ramp[20:140, 40:120] = 0.8
    p._network_prob = lambda wc: ramp
    clicks = [Click(80, 80, True)]
    snapped = p.predict(clicks)
    got = p.predict(clicks, refine=True)
    np.testing.assert_array_equal(got, refine(img, snapped, clicks, cache=GuideCache(img)))
    assert "refine" in p.last_timings
    g = Predictor(model, device="cpu", brs=None, refine_method="grabcut")
    assert g.info()["refine_method"] == "grabcut" and g.two_stage_refine and not p.two_stage_refine
    with pytest.raises(IFCNError, match="unknown refinement"):
        Predictor(model, device="cpu", refine_method="magic")


def test_the_photos_cached_statistics_change_nothing_but_the_crops_edge():
    """With the predictor's `GuideCache`, the photo's colour bins and guide statistics are computed once and
    cropped: the refined probability is the one computed on the crop alone, click after click, except within
    2 x radius px of the crop's edges inside the photo (there the photo's own statistics replace the crop's
    reflected ones), where it moves by a few hundredths at most; the masks are the same."""

    img, _ = _object_scene()
    cache = GuideCache(img)
    rng = np.random.default_rng(2)
    reach = 2 * ColourRefine().radius
    for k in range(3):
        prob = np.zeros(img.shape[:2], np.float32)
        prob[30 + 5 * k:120, 50:110 + 5 * k] = 0.7
        prob += rng.random(prob.shape).astype(np.float32) * 0.2
        clicks = [Click(80, 80, True)] + [Click(20, 20 + 10 * k, False)]
        cached, alone = refine(img, prob, clicks, cache=cache), refine(img, prob, clicks)
        np.testing.assert_array_equal(cached >= 0.5, alone >= 0.5)
        assert np.abs(cached - alone).max() < 0.1
        y0, y1, x0, x1 = crop_box(prob >= 0.5, clicks, margin_frac=ColourRefine().margins[0])
        inner = np.zeros(prob.shape, bool)
        inner[y0 + reach:y1 - reach, x0 + reach:x1 - reach] = True
        np.testing.assert_array_equal(cached[inner], alone[inner])
    assert ("colour_index", ColourRefine().bins) in cache._derived
