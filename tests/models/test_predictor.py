import numpy as np
import pytest

from models.checkpoint import save_checkpoint
from models.errors import IFCNError
from models.predictor import GRABCUT, Click, Predictor, ZoomIn
from tests.models.helpers import random_model


def scene(h=120, w=160):
    """A bright disk on a dark textured background, and its mask."""
    rng = np.random.default_rng(0)
    img = (rng.random((h, w, 3)) * 60).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    mask = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 < (min(h, w) // 4) ** 2
    img[mask] = (200, 180, 40)
    return img, mask


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "r18.pt"
    save_checkpoint(path, random_model(), meta={"val_iou": 0.42})
    return path


def test_output_maps_back_to_original_size(checkpoint):
    p = Predictor.load(checkpoint, device="cpu", max_size=64)
    img = np.zeros((150, 301, 3), np.uint8)
    p.set_image(img)
    prob = p.predict([Click(x=300, y=149, positive=True)])
    assert prob.shape == (150, 301) and prob.dtype == np.float32
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    assert p.info()["val_iou"] == 0.42 and p.info()["backbone"] == "resnet18"


def test_downscaled_matches_direct_inference_on_small_image(checkpoint):
    """An image under the cap is not resized: predictor == the network on make_input."""
    import torch
    from models.checkpoint import load_checkpoint
    from models.inputs import make_input
    img, _ = scene(64, 80)
    p = Predictor.load(checkpoint, device="cpu", max_size=512, zoom_in=None, brs=None, snap=None)
    p.set_image(img)
    clicks = [Click(40, 32, True), Click(5, 5, False)]
    prob = p.predict(clicks)
    net = load_checkpoint(checkpoint).model
    with torch.no_grad():
        ref = torch.sigmoid(net(torch.from_numpy(make_input(img, clicks, net.spec))[None]))[0, 0].numpy()
    np.testing.assert_allclose(prob, ref, atol=1e-5)


def test_rejects_clicks_outside_the_image(checkpoint):
    p = Predictor.load(checkpoint, device="cpu")
    p.set_image(np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(ValueError, match="outside"):
        p.predict([Click(30, 5)])
    with pytest.raises(ValueError):
        p.predict([Click(float("nan"), 5)])


def test_no_positive_click_gives_empty_mask(checkpoint):
    p = Predictor.load(checkpoint, device="cpu")
    p.set_image(np.zeros((20, 30, 3), np.uint8))
    assert p.predict([]).max() == 0.0
    assert p.predict([Click(3, 3, False)]).max() == 0.0


def test_predict_before_image_is_an_error(checkpoint):
    with pytest.raises(IFCNError):
        Predictor.load(checkpoint, device="cpu").predict([Click(1, 1)])


def test_grabcut_fallback_is_labelled_and_segments(tmp_path, monkeypatch):
    import models.predictor as mp
    monkeypatch.setattr(mp, "default_checkpoint", lambda: tmp_path / "absent.pt")
    p = Predictor.load(None)
    assert p.is_classical and "GrabCut" in p.name
    img, mask = scene()
    p.set_image(img)
    prob = p.predict([Click(80, 60, True)])
    from models.metrics import iou
    assert iou(prob > 0.5, mask) > 0.8
    assert Predictor.load(GRABCUT).is_classical


@pytest.mark.parametrize("method", ["colour", "grabcut"])
def test_refine_keeps_definite_pixels(checkpoint, method):
    """Refinement: the discs around clicks (each method's radius) are definite, whatever the network said."""
    from models import grabcut
    from models.brs import click_discs
    from models.colour_refine import ColourRefine

    img, mask = scene()
    p = Predictor.load(checkpoint, device="cpu", refine_method=method)
    p.set_image(img)
    clicks = [Click(80, 60, True), Click(10, 10, False)]
    prob = p.predict(clicks, refine=True)
    radius = ColourRefine().click_radius if method == "colour" else grabcut.RADIUS
    pos, neg = click_discs(clicks, *prob.shape, radius)
    assert pos.sum() > 20 and neg.sum() > 20
    assert np.all(prob[pos] == 1.0) and np.all(prob[neg] == 0.0)


@pytest.mark.parametrize("method", ["grabcut", "colour"])
def test_refined_after_preview_reuses_the_network_output(checkpoint, method):
    """predict(refine=False) then predict(refine=True): one network run, same result as refining directly; only
    the slow GrabCut refinement asks the annotator for a preview first."""
    img, _ = scene()
    clicks = [Click(80, 60, True), Click(10, 10, False)]
    direct = Predictor.load(checkpoint, device="cpu", refine_method=method)
    direct.set_image(img)
    want = direct.predict(clicks, refine=True)
    p = Predictor.load(checkpoint, device="cpu", refine_method=method)
    p.set_image(img)
    assert p.two_stage_refine == (method == "grabcut")
    runs = _spy(p)
    preview = p.predict(clicks)
    first = len(runs)
    refined = p.predict(clicks, refine=True)
    assert len(runs) == first  # no second network run for the refinement
    np.testing.assert_array_equal(refined, want)
    preview[:] = 0  # callers may scribble on results: the cache is not theirs
    np.testing.assert_array_equal(p.predict(clicks, refine=True), want)
    p.set_image(img[:, ::-1].copy())
    p.predict(clicks)
    assert len(runs) == 2 * first  # a new image invalidates the cache


def test_refine_widens_the_crop_instead_of_cutting_the_object():
    """The network saw only the top of a uniform object (unsure about the rest): GrabCut's growth must not
    stop at the crop edge."""
    from models.grabcut import refine
    rng = np.random.default_rng(1)
    h, w = 160, 160
    img = (rng.random((h, w, 3)) * 40 + 20).astype(np.uint8)
    img[20:140, 40:120] = (210, 190, 60)
    prob = np.full((h, w), 0.01, np.float32)
    prob[80:140, 40:120] = 0.3  # unsure: GrabCut decides there
    prob[20:80, 40:120] = 1.0  # only the top half predicted: the first crop ends near row 96
    out = refine(img, prob, [Click(80, 35, True)])
    assert out[120:138, 45:115].mean() > 0.95  # reached the bottom part, well outside the first crop
    assert out[150:, :].max() == 0.0


def test_refine_keeps_the_prediction_when_grabcut_leaks_past_the_widest_crop():
    """Object and background of one colour: GrabCut would fill every crop up to its straight edges (a
    square mask); the network's prediction stays instead."""
    from models.grabcut import refine
    rng = np.random.default_rng(1)
    img = (rng.random((300, 300, 3)) * 30 + np.array([200, 180, 50])).astype(np.uint8)
    prob = np.zeros((300, 300), np.float32)
    prob[120:180, 120:180] = 0.9
    out = refine(img, prob, [Click(150, 150, True), Click(10, 10, False)])
    assert ((out > 0.5) == (prob > 0.5)).all()
    assert out[150, 150] == 1.0 and out[10, 10] == 0.0  # the click disks are still definite


def test_refine_downscales_big_crops_for_grabcut(monkeypatch):
    """GrabCut never sees more than max_pixels (its time grows faster than the area); the mask comes back
    at full size and still follows the object's edges to within the downscaling."""
    from models import grabcut
    rng = np.random.default_rng(2)
    img = (rng.random((300, 400, 3)) * 40 + 20).astype(np.uint8)
    obj = np.zeros((300, 400), bool)
    obj[40:260, 60:330] = True
    img[obj] = (200, 170, 60)
    prob = np.where(obj, 0.3, 0.0).astype(np.float32)  # unsure about a 20 px rim all round,
    prob[60:240, 80:310] = 0.9  # which the network missed
    sizes = []
    run = grabcut._run
    monkeypatch.setattr(grabcut, "_run", lambda rgb, gc, it: (sizes.append(gc.size), run(rgb, gc, it))[1])
    out = grabcut.refine(img, prob, [Click(200, 150, True), Click(10, 10, False)], max_pixels=10_000)
    assert sizes and max(sizes) <= 10_000
    assert out.shape == (300, 400)
    inter, union = ((out > 0.5) & obj).sum(), ((out > 0.5) | obj).sum()
    assert inter / union > 0.93  # the prediction's IoU was 0.70; GrabCut at 1/3 scale loses about a pixel of rim
    full = grabcut.refine(img, prob, [Click(200, 150, True), Click(10, 10, False)], max_pixels=10 ** 9)
    assert ((full > 0.5) == obj).all() and max(sizes) > 10_000  # not downscaled: exact, on the bigger crop


# ----------------------------------------------------------------------------- zoom-in

class _Counted:
    """`net` that records the (h, w) of every input it runs on (whole forward or f-BRS's features)."""

    def __init__(self, net, shapes):
        self._net, self._shapes = net, shapes

    def __call__(self, x):
        self._shapes.append(tuple(x.shape[-2:]))
        return self._net(x)

    def features(self, x):
        self._shapes.append(tuple(x.shape[-2:]))
        return self._net.features(x)

    def __getattr__(self, name):  # head, head_strides, ...
        return getattr(self._net, name)


def _spy(p):
    """Record the (h, w) of every network input of predictor `p`; the network itself still runs."""
    shapes = []
    p._net = _Counted(p._net, shapes)
    return shapes


def _fixed_prob(p, mask):
    """Make `p`'s network predict `mask` (logit +8 / -8) at whatever size it is asked for."""
    import cv2
    import torch

    shapes = []

    class _Fixed:
        """A fake network with the predictor's interface: `features` records the input size, `head` paints
        `mask` at the requested size."""

        def features(self, x):
            shapes.append(tuple(x.shape[-2:]))
            return {}

        def head(self, feats, size):
            h, w = size
            m = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
            return torch.from_numpy(np.where(m > 0, 8.0, -8.0).astype(np.float32))[None, None]

    p._net = _Fixed()
    p._engine = None
    p.brs = None  # f-BRS would differentiate a real head
    return shapes


def test_zoom_in_runs_the_second_click_on_an_enlarged_crop_around_the_object(checkpoint):

    img = np.zeros((200, 300, 3), np.uint8)
    obj = np.zeros((200, 300), bool)
    obj[80:110, 140:180] = True  # a 40 x 30 object
    p = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn(target=320, expansion=1.4, min_crop=40), snap=None)
    p.set_image(img)
    shapes = _fixed_prob(p, obj)
    p.predict([Click(150, 90, True)])
    assert shapes == [(200, 300)]  # the first click looks at the whole image
    # the crop is a square around the object's box (incl. the clicks), its longer side grown 1.4x: 56 x 56 px,
    # upscaled to 320 px
    x0, y0, x1, y1 = p._zoom_roi([Click(150, 90, True), Click(170, 100, True)])
    assert (x1 - x0, y1 - y0) == (56, 56) and x0 <= 140 and x1 >= 180 and y0 <= 80 and y1 >= 110
    prob = p.predict([Click(150, 90, True), Click(170, 100, True)])
    assert shapes[1] == (320, 320)
    assert prob.shape == (200, 300)
    assert prob[:, :x0].max() == 0 and prob[:y0].max() == 0  # outside the crop: background


def test_zoom_in_result_depends_on_the_clicks_only_not_on_what_came_before(checkpoint):
    img, _ = scene(120, 160)
    clicks = [Click(80, 60, True), Click(100, 62, True), Click(10, 10, False)]
    a = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn())
    a.set_image(img)
    for k in range(1, 4):
        last = a.predict(clicks[:k])
    b = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn())  # asked for all three clicks at once
    b.set_image(img)
    np.testing.assert_array_equal(b.predict(clicks), last)
    runs = _spy(b)
    b.predict(clicks[:2])  # undo: the prefix is remembered, no network run
    np.testing.assert_array_equal(b.predict(clicks), last)  # redo
    assert runs == []


def test_zoom_in_keeps_the_whole_image_for_big_objects_and_after_an_empty_mask(checkpoint):
    img = np.zeros((400, 480, 3), np.uint8)
    p = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn())
    p.set_image(img)
    big = np.ones((400, 480), bool)
    shapes = _fixed_prob(p, big)
    p.predict([Click(60, 50, True), Click(10, 10, True)])
    assert shapes == [(400, 480), (400, 480)]  # nearly all of the image, not enlarged: nothing to gain
    p.set_image(img)
    shapes = _fixed_prob(p, np.zeros((400, 480), bool))
    p.predict([Click(60, 50, True), Click(70, 50, True)])
    assert shapes == [(400, 480), (400, 480)]  # nothing selected yet: no box to zoom on


def test_without_zoom_in_every_click_sees_the_whole_image(checkpoint):
    p = Predictor.load(checkpoint, device="cpu", zoom_in=None)
    img, _ = scene(120, 160)
    p.set_image(img)
    shapes = _spy(p)
    p.predict([Click(80, 60, True), Click(90, 60, True)])
    assert shapes == [(120, 160)]
    assert p.info()["zoom_in"] is False


def test_zoom_in_settings_are_checked():

    with pytest.raises(ValueError):
        ZoomIn(target=4)
    with pytest.raises(ValueError):
        ZoomIn(expansion=0.5)


def test_forget_makes_the_next_prediction_run_the_network_again(checkpoint):
    img, _ = scene()
    p = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn())
    p.set_image(img)
    clicks = [Click(80, 60, True), Click(90, 62, True)]
    first = p.predict(clicks)
    runs = _spy(p)
    p.predict(clicks)
    assert runs == []  # remembered
    p.forget(clicks)
    np.testing.assert_array_equal(p.predict(clicks), first)
    assert len(runs) == 1  # only the forgotten click list ran again; its prefix was still remembered
    p.forget()
    p.predict(clicks)
    assert len(runs) == 3


def test_zoom_in_looks_at_the_whole_image_when_the_object_goes_past_the_crop(checkpoint):
    """A click on a big region after a small object: the crop would cut the mask with a straight line."""
    img = np.zeros((200, 300, 3), np.uint8)
    small = np.zeros((200, 300), bool)
    small[80:110, 140:180] = True
    p = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn(target=320, min_crop=40))
    p.set_image(img)
    shapes = _fixed_prob(p, small)
    p.predict([Click(150, 90, True)])
    everything = np.ones((200, 300), bool)  # now the network answers "all of it" at any size
    later = _fixed_prob(p, everything)
    prob = p.predict([Click(150, 90, True), Click(170, 100, True)])
    assert shapes == [(200, 300)] and later == [(320, 320), (200, 300)]  # crop first, then everything
    assert (prob > 0.5).all()  # no straight cut at the crop's edges


def test_refine_writes_no_region_without_a_click_and_no_straight_crop_edge():
    """Two coins of one colour: the user clicked the left one. GrabCut sees part of the right one inside its
    crop and would call it foreground; the refined mask must hold the clicked coin only, with no piece of
    the neighbour cut by the crop's straight edge."""
    from models.grabcut import refine
    rng = np.random.default_rng(3)
    h, w = 200, 300
    img = (rng.random((h, w, 3)) * 40 + 20).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    left = (yy - 100) ** 2 + (xx - 80) ** 2 < 40 ** 2
    right = (yy - 100) ** 2 + (xx - 175) ** 2 < 40 ** 2  # 15 px gap: inside the first crop's margin
    img[left | right] = (200, 170, 60)
    prob = np.where(left, 0.9, 0.05).astype(np.float32)
    out = refine(img, prob, [Click(80, 100, True)])
    sel = out >= 0.5
    assert not (sel & right).any()
    inter, union = (sel & left).sum(), (sel | left).sum()
    assert inter / union > 0.95


def test_refine_keeps_the_network_mask_when_grabcut_collapses_to_the_clicks(monkeypatch):
    """A colour model that cannot tell the object from its background (fur, foliage) makes GrabCut keep
    little more than the click disc: one click then selected nothing. The network's mask stays instead."""
    from models import grabcut
    img = np.random.default_rng(4).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    prob = np.zeros((120, 160), np.float32)
    prob[30:90, 40:120] = 0.9
    click = Click(80, 60, True)

    def collapsed(rgb, fg, clicks, *args):
        seg = np.zeros(fg.shape, bool)
        seg[clicks[0].pixel()[1] - 4:clicks[0].pixel()[1] + 5, clicks[0].pixel()[0] - 4:clicks[0].pixel()[0] + 5] = True
        return seg

    monkeypatch.setattr(grabcut, "_segment_crop", collapsed)
    out = grabcut.refine(img, prob, [click])
    assert ((out >= 0.5) == (prob >= 0.5)).all()

    def trimmed(rgb, seeds, clicks, *args):  # GrabCut trims a 6 px rim: a refinement, kept
        seg = np.zeros(seeds.shape, bool)
        ys, xs = np.nonzero(np.isin(seeds, (1, 3)))  # GC_FGD, GC_PR_FGD
        seg[ys.min() + 6:ys.max() - 5, xs.min() + 6:xs.max() - 5] = True
        return seg

    monkeypatch.setattr(grabcut, "_segment_crop", trimmed)
    out = grabcut.refine(img, prob, [click])
    assert (out >= 0.5).sum() == 48 * 68 and out[33, 43] == 0.0
    with pytest.raises(AssertionError):  # min_kept=0.9 refuses even that trim: the setting is used
        assert grabcut.refine(img, prob, [click], min_kept=0.9)[33, 43] == 0.0


def test_refine_counts_a_cut_a_few_px_inside_a_downscaled_crops_edge(monkeypatch):
    """A crop downscaled for GrabCut comes back scaled up: GrabCut's object reaching its edge can end a few
    px inside the crop's edge, and still be cut there by a straight line; the crop is then widened."""
    from models import grabcut
    img = np.random.default_rng(5).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    prob = np.zeros((300, 400), np.float32)
    prob[100:200, 100:250] = 0.9
    shapes = []

    def stops_short(rgb, fg, clicks, *args):
        shapes.append(fg.shape)
        seg = np.zeros(fg.shape, bool)
        seg[10:-10, 10:-2] = True  # right side: 2 px short of the crop's edge (GrabCut saw it at ~0.54x)
        return seg

    monkeypatch.setattr(grabcut, "_segment_crop", stops_short)
    grabcut.refine(img, prob, [Click(175, 150, True)], max_pixels=10_000)
    assert len(shapes) == 2 and shapes[1][1] > shapes[0][1]  # widened


def test_refine_with_definite_never_overrides_where_the_network_is_sure(monkeypatch):
    """With `definite` (off by default: grabcut.DEFINITE), GrabCut decides only where the network is unsure:
    pixels it is sure about (probability within `definite` of 0 or 1) reach GrabCut as definite labels, which
    it never changes; with definite=0 only the click discs are definite."""
    import cv2
    from models import grabcut, regions
    rng = np.random.default_rng(6)
    h, w = 160, 200
    img = (rng.random((h, w, 3)) * 20 + 200).astype(np.uint8)
    img[40:120, 30:110] = (30, 30, 40)
    prob = np.full((h, w), 0.01, np.float32)
    prob[40:120, 30:110] = 0.99
    prob[36:124, 26:114] = np.maximum(prob[36:124, 26:114], 0.5)  # an unsure 4 px rim
    seen = []
    run = grabcut._run
    monkeypatch.setattr(grabcut, "_run", lambda rgb, gc, it: (seen.append(gc.copy()), run(rgb, gc, it))[1])
    D = 0.05
    out = grabcut.refine(img, prob, [Click(50, 80, True)], max_pixels=10 ** 6, definite=D)
    gc = seen[0]
    y0, y1, x0, x1 = regions.crop_box(prob >= 0.5, [Click(50, 80, True)])
    crop = prob[y0:y1, x0:x1]
    assert gc.shape == crop.shape
    assert (gc[crop <= D] == cv2.GC_BGD).all() and (gc[crop >= 1 - D] == cv2.GC_FGD).all()
    assert np.isin(gc[(crop > D) & (crop < 1 - D)], (cv2.GC_PR_BGD, cv2.GC_PR_FGD)).all()
    assert (out[prob >= 1 - D] >= 0.5).all() and (out[prob <= D] < 0.5).all()
    seen.clear()
    grabcut.refine(img, prob, [Click(50, 80, True)], max_pixels=10 ** 6, definite=0.0)
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, (50, 80), grabcut.RADIUS, 1, thickness=-1)
    assert (np.isin(seen[0], (cv2.GC_BGD, cv2.GC_FGD)) == disc[y0:y1, x0:x1].astype(bool)).all()  # the click only


def test_net_size_runs_the_network_smaller_and_refines_at_the_working_size(monkeypatch):
    """`net_size` below the working size: the network sees the working image downscaled to it (the same
    probability as a predictor whose working size is net_size), refinement (colour, and GrabCut) runs at the
    working size; at or above the working size it changes nothing."""
    from models import colour_refine, grabcut
    from models.fileio import read_image
    from resources import SAMPLES
    img = read_image(SAMPLES / "astronaut.jpg")  # 512 x 512
    clicks = [Click(120, 330, True), Click(300, 300, False)]
    small = Predictor.load(None, device="cpu", max_size=384, snap=None)  # the network's output compared
    split = Predictor.load(None, device="cpu", max_size=512, net_size=384, snap=None)
    plain = Predictor.load(None, device="cpu", max_size=512)
    same = Predictor.load(None, device="cpu", max_size=512, net_size=512)
    for p in (small, split, plain, same):
        p.set_image(img)
    assert split.info()["net_size"] == 384 and tuple(split._net_input.shape[-2:]) == (384, 384)
    np.testing.assert_allclose(split.predict(clicks), small.predict(clicks), atol=1e-6)
    np.testing.assert_array_equal(same.predict(clicks), plain.predict(clicks))
    sizes = []
    for module in (colour_refine, grabcut):
        real = module.refine
        monkeypatch.setattr(module, "refine", lambda rgb, prob, wc, *a, _real=real, **kw:
                            (sizes.append(rgb.shape[:2]), _real(rgb, prob, wc, *a, **kw))[1])
    split.predict(clicks, refine=True)
    split.refine_method = "grabcut"
    split.predict(clicks, refine=True)
    assert sizes == [(512, 512), (512, 512)]


def test_grabcut_gives_the_same_mask_whatever_ran_before():
    """GrabCut's colour models start from k-means on OpenCV's global random generator; unseeded, the astronaut's
    mask for the same labels changed over half the crop with the generator's state (undo/redo or a benchmark's
    earlier objects changed what a click gave)."""
    import cv2

    from models import grabcut

    img = cv2.resize(cv2.imread("resources/samples/astronaut.jpg"), (200, 200))
    gc = np.full((200, 200), cv2.GC_PR_BGD, np.uint8)
    gc[50:150, 50:150] = cv2.GC_PR_FGD
    gc[98:102, 98:102] = cv2.GC_FGD
    gc[:2] = cv2.GC_BGD
    masks = []
    for state in (1, 2, 3):
        cv2.setRNGSeed(state)
        masks.append(grabcut._run(img, gc.copy(), 5))
    assert all((m == masks[0]).all() for m in masks[1:])


def test_refinement_ends_without_specks_the_network_alone_keeps_them(checkpoint, monkeypatch):
    """predict(refine=True) ends by dropping small unclicked parts and filling pinholes (models.regions.despeckle);
    refine=False returns the pipeline's probability as it is (the network alone is measured that way)."""
    img, mask = scene()
    p = Predictor.load(checkpoint, device="cpu", max_size=512, zoom_in=None, brs=None, snap=None)
    p.set_image(img)
    prob = np.where(mask, 0.9, 0.1).astype(np.float32)
    prob[5:8, 5:8] = 0.8  # a speck far from the object
    prob[60, 80] = 0.2  # a pinhole in it
    monkeypatch.setattr(p, "_network_prob", lambda wc: prob)
    monkeypatch.setattr("models.colour_refine.refine", lambda work, pr, wc, cache=None: pr.copy())
    clicks = [Click(80, 55, True)]
    refined = p.predict(clicks, refine=True)
    assert not (refined[5:8, 5:8] >= 0.5).any() and refined[60, 80] >= 0.5
    assert ((refined >= 0.5) == mask).all() and "despeckle" in p.last_timings
    np.testing.assert_array_equal(p.predict(clicks, refine=False), prob)
    kept = p.predict(clicks + [Click(6, 6, True)], refine=True)  # a clicked part is the user's
    assert (kept[5:8, 5:8] >= 0.5).all()
