import numpy as np
import pytest

from models.checkpoint import save_checkpoint
from models.errors import IFCNError
from models.predictor import GRABCUT, Click, Predictor
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
    p = Predictor.load(checkpoint, device="cpu", max_size=512)
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


def test_refine_keeps_definite_pixels(checkpoint):
    """GrabCut refinement: disks around clicks are definite, whatever the network said."""
    img, mask = scene()
    p = Predictor.load(checkpoint, device="cpu")
    p.set_image(img)
    clicks = [Click(80, 60, True), Click(10, 10, False)]
    prob = p.predict(clicks, refine=True)
    assert np.all(prob[57:64, 77:84] == 1.0)
    assert np.all(prob[7:14, 7:14] == 0.0)


def test_refined_after_preview_reuses_the_network_output(checkpoint):
    """predict(refine=False) then predict(refine=True): one network run, same result as refining directly."""
    img, _ = scene()
    clicks = [Click(80, 60, True), Click(10, 10, False)]
    direct = Predictor.load(checkpoint, device="cpu")
    direct.set_image(img)
    want = direct.predict(clicks, refine=True)
    p = Predictor.load(checkpoint, device="cpu")
    p.set_image(img)
    assert p.two_stage_refine
    runs = []
    net = p._net
    p._net = lambda x: (runs.append(1), net(x))[1]
    preview = p.predict(clicks)
    refined = p.predict(clicks, refine=True)
    assert len(runs) == 1
    np.testing.assert_array_equal(refined, want)
    preview[:] = 0  # callers may scribble on results: the cache is not theirs
    np.testing.assert_array_equal(p.predict(clicks, refine=True), want)
    p.set_image(img[:, ::-1].copy())
    p.predict(clicks)
    assert len(runs) == 2  # a new image invalidates the cache


def test_refine_widens_the_crop_instead_of_cutting_the_object():
    """The network saw only the top of a uniform object: GrabCut's growth must not stop at the crop edge."""
    from models.grabcut import refine
    rng = np.random.default_rng(1)
    h, w = 160, 160
    img = (rng.random((h, w, 3)) * 40 + 20).astype(np.uint8)
    img[20:140, 40:120] = (210, 190, 60)
    prob = np.zeros((h, w), np.float32)
    prob[20:80, 40:120] = 1.0  # only the top half predicted: the first crop ends near row 96
    out = refine(img, prob, [Click(80, 35, True)])
    assert out[120:138, 45:115].mean() > 0.95  # reached the bottom part, well outside the first crop
    assert out[150:, :].max() == 0.0
