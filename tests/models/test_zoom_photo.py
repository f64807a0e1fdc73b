"""Zoom-in crops come from the photo itself when it is larger than the working image, so the network sees
the photo's own detail, not the working image enlarged (MODEL_CARD, "Zoom-in from the photo")."""
import cv2
import numpy as np
import pytest
import torch

from models.checkpoint import save_checkpoint
from models.predictor import Click, Predictor, ZoomIn
from tests.models.helpers import random_model


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "r18.pt"
    save_checkpoint(path, random_model())
    return path


def _record_inputs(p, mask):
    """Make `p`'s network predict `mask` (working size) and record every input it is given."""
    inputs = []

    class _Fixed:
        def features(self, x):
            inputs.append(x[0, :3].clone())
            return {}

        def head(self, feats, size):
            h, w = size
            m = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
            return torch.from_numpy(np.where(m > 0, 8.0, -8.0).astype(np.float32))[None, None]

    p._net, p._engine, p.brs = _Fixed(), None, None
    return inputs


def _striped(h: int, w: int) -> np.ndarray:
    """Black and white columns one pixel wide: grey once the photo is halved."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, ::2] = 255
    return img


@pytest.mark.parametrize("max_size,net_size", [(512, None), (1024, None), (1024, 512)])
def test_the_zoomed_crop_shows_the_photo_detail_the_working_image_lost(checkpoint, max_size, net_size):
    photo = _striped(768, 1024)
    p = Predictor.load(checkpoint, device="cpu", max_size=max_size, net_size=net_size, zoom_in=ZoomIn(), snap=None)
    p.set_image(photo)
    work_h, work_w = p._work.shape[:2]
    obj = np.zeros((work_h, work_w), bool)
    s = work_w / 1024
    obj[int(300 * s):int(400 * s), int(400 * s):int(520 * s)] = True  # a 120 x 100 object of the photo
    inputs = _record_inputs(p, obj)
    clicks = [Click(450, 350, True), Click(500, 380, True)]
    p.predict(clicks[:1])
    p.predict(clicks)
    whole, zoomed = inputs[0], inputs[1]
    reduced = max_size == 512 or net_size == 512
    assert whole.shape[-2:] == ((384, 512) if reduced else (768, 1024))
    assert zoomed.shape[-2:] == (416, 416)
    x0, y0, x1, y1 = p._rois[tuple(p._work_clicks(clicks))]
    crop = zoomed[:, :round((y1 - y0) * 400 / (x1 - x0)) - 1, :399]  # without the padding
    if reduced:
        assert whole.flatten(1).std(1).max() < 0.01  # the photo halved: the stripes are gone
    else:
        assert whole.flatten(1).std(1).min() > 0.9
    # the crop (about 170 px of the network's whole-image view, 340 px of the photo) enlarged to 400 px: stripes
    assert crop.flatten(1).std(1).min() > 0.5


def test_the_crop_of_the_photo_covers_the_same_place_as_the_working_crop(checkpoint):
    """A photo twice the working size: the network's input from the photo matches the one from the working
    image (the same place, only sharper), and so does the mask."""
    rng = np.random.default_rng(0)
    small = cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (512, 384), interpolation=cv2.INTER_CUBIC)
    photo = cv2.resize(small, (1024, 768), interpolation=cv2.INTER_CUBIC)
    p = Predictor.load(checkpoint, device="cpu", zoom_in=ZoomIn(), snap=None)
    p.set_image(photo)
    roi = (100, 80, 300, 280)
    from_photo = p._zoom_pixels(roi, 400, 400).astype(np.float32)
    from_work = cv2.resize(p._work[80:280, 100:300], (400, 400), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    assert np.abs(from_photo - from_work).mean() < 4.0  # same place (a one-pixel shift would be ~10)
    shifted = cv2.resize(p._work[81:281, 101:301], (400, 400), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    assert np.abs(from_photo - shifted).mean() > np.abs(from_photo - from_work).mean() * 1.5


def test_zoom_in_sizes_are_working_pixels_when_the_network_sees_a_reduced_working_image(checkpoint):
    """--net-size 256 on a 512-px working image: zoom-in's smallest crop is still 200 working px (the photo's
    pixels: a small object is enlarged from its own detail), the same crop and input as without the reduction,
    while the whole image reaches the network at 256 px (MODEL_CARD, "Working size 1024")."""
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    obj = np.zeros((512, 512), bool)
    obj[200:260, 220:280] = True  # 60 x 60 working px
    clicks = [Click(240, 230, True), Click(250, 240, True)]
    crops = {}
    for net_size in (None, 256):
        p = Predictor.load(checkpoint, device="cpu", max_size=512, net_size=net_size, zoom_in=ZoomIn(), snap=None)
        p.set_image(photo)
        inputs = _record_inputs(p, obj)
        p.predict(clicks[:1])
        p.predict(clicks)
        x0, y0, x1, y1 = p._rois[tuple(clicks)]
        crops[net_size] = ((x1 - x0, y1 - y0), inputs[1])
        assert inputs[0].shape[-2:] == ((512, 512) if net_size is None else (256, 256))
        assert inputs[1].shape[-2:] == (416, 416)  # the zoom-in target, padded to a multiple of 32
    assert crops[None][0] == crops[256][0] == (200, 200)
    assert torch.equal(crops[None][1], crops[256][1])


def test_a_crop_larger_than_the_target_is_reduced_to_the_network_scale_not_run_at_the_working_one(checkpoint):
    rng = np.random.default_rng(2)
    photo = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    obj = np.zeros((512, 512), bool)
    obj[100:420, 100:420] = True  # 320 px: a crop of 448 working px, 224 px of the network's whole-image scale
    p = Predictor.load(checkpoint, device="cpu", max_size=512, net_size=256, zoom_in=ZoomIn(target=160), snap=None)
    p.set_image(photo)
    inputs = _record_inputs(p, obj)
    clicks = [Click(250, 250, True), Click(300, 300, True)]
    p.predict(clicks[:1])
    prob = p.predict(clicks)
    x0, y0, x1, y1 = p._rois[tuple(clicks)]
    assert x1 - x0 == 448
    assert inputs[1].shape[-2:] == (256, 256)  # 448 px reduced by 2 (224), padded to the whole-image input
    assert prob.shape == (512, 512) and prob[(y0 + y1) // 2, (x0 + x1) // 2] > 0.99 and prob[:, :x0].max() == 0
