"""The previous-mask input (RITM's; `ModelSpec.prev_mask`): the spec, the widened first convolution, the input
encoding, the checkpoint's checks and the predictor feeding the previous prediction back."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.clicks import Click
from models.errors import CheckpointError
from models.fcn import build_ifcn, with_prev_mask
from models.inputs import PREV, make_input, prev_channel
from models.predictor import Predictor, ZoomIn
from models.spec import ModelSpec
from tests.models.helpers import random_model, rewritten_checkpoint


def _prev_model(seed: int = 0) -> torch.nn.Module:
    """A random resnet18 iFCN with the previous-mask input whose sixth channel has weight (so it matters)."""
    net = with_prev_mask(random_model(seed=seed))
    conv = next(m for m in net.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        conv.weight[:, PREV].normal_(0, 0.02)
    return net.eval()


def _scene(h: int = 64, w: int = 80) -> np.ndarray:
    rng = np.random.default_rng(1)
    img = (rng.random((h, w, 3)) * 60).astype(np.uint8)
    img[20:44, 25:55] = (200, 180, 40)
    return img


def test_spec_round_trip_and_the_plain_spec_unchanged():
    plain = ModelSpec(backbone="resnet18")
    assert "prev_mask" not in plain.to_dict() and plain.in_channels == 5  # files written before keep their form
    spec = ModelSpec(backbone="resnet18", prev_mask=True)
    assert spec.in_channels == 6 and "previous mask" in spec.name
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError):
        ModelSpec(prev_mask="yes")


def test_widening_keeps_the_predictions_whatever_the_new_channel_holds():
    net = random_model()
    x = torch.randn(1, 5, 64, 64)
    with torch.no_grad():
        before = net(x)
        with_prev_mask(net)
        after = net(torch.cat([x, torch.rand(1, 1, 64, 64)], 1))
    assert net.spec.prev_mask and net.spec.in_channels == 6
    torch.testing.assert_close(before, after)


def test_built_from_the_spec_for_efficientnet_too():
    net = build_ifcn(ModelSpec(backbone="efficientnet_lite0", prev_mask=True))
    out = net(torch.zeros(1, 6, 64, 64))
    assert out.shape == (1, 1, 64, 64)
    with pytest.raises(RuntimeError):
        net(torch.zeros(1, 5, 64, 64))


def test_input_encoding():
    spec = ModelSpec(prev_mask=True)
    rgb = _scene()
    prev = np.full(rgb.shape[:2], 1.5, np.float32)
    x = make_input(rgb, [Click(30, 30, True)], spec, prev)
    assert x.shape == (6, 64, 80)
    assert np.all(x[PREV] == 1.0)  # clipped to [0, 1]
    np.testing.assert_array_equal(x[:5], make_input(rgb, [Click(30, 30, True)], ModelSpec()))
    assert np.all(make_input(rgb, [Click(30, 30, True)], spec)[PREV] == 0.0)  # none before the first click
    with pytest.raises(ValueError, match="differ"):
        prev_channel(np.zeros((3, 3)), 64, 80)


def test_checkpoint_round_trip_and_a_mismatched_spec_is_refused(tmp_path):
    net = _prev_model()
    save_checkpoint(tmp_path / "m.pt", net)
    loaded = load_checkpoint(tmp_path / "m.pt").model
    assert loaded.spec.prev_mask
    x = torch.rand(1, 6, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))
    for value in (False, "1"):  # weights of 6 channels under a 5-channel spec; a value that is not a bool
        bad = rewritten_checkpoint(tmp_path / "m.pt", tmp_path / "bad.pt",
                                   lambda raw: raw["spec"].__setitem__("prev_mask", value))
        with pytest.raises(CheckpointError):
            load_checkpoint(bad)


def _network_on(net, rgb, clicks, prev):
    with torch.no_grad():
        x = torch.from_numpy(make_input(rgb, clicks, net.spec, prev))[None]
        return torch.sigmoid(net(x))[0, 0].numpy()


def test_predictor_feeds_the_previous_prediction(tmp_path):
    """Each click's prediction is the network on the clicks and the prediction without the last click; a fresh
    predictor asked for the whole sequence at once gives the same as one asked click by click."""
    net = _prev_model()
    save_checkpoint(tmp_path / "m.pt", net)
    rgb = _scene()
    clicks = [Click(40, 30, True), Click(10, 10, False), Click(30, 25, True)]
    expected, prev = [], None
    for k in range(1, len(clicks) + 1):
        prev = _network_on(net, rgb, clicks[:k], prev)
        expected.append(prev)
    p = Predictor.load(tmp_path / "m.pt", device="cpu", brs=None, snap=None, zoom_in=None)
    p.set_image(rgb)
    for k in range(1, len(clicks) + 1):
        np.testing.assert_allclose(p.predict(clicks[:k]), expected[k - 1], atol=1e-5)
    fresh = Predictor.load(tmp_path / "m.pt", device="cpu", brs=None, snap=None, zoom_in=None)
    fresh.set_image(rgb)
    np.testing.assert_allclose(fresh.predict(clicks), expected[-1], atol=1e-5)
    # the previous mask matters: without it the last prediction differs
    assert np.abs(_network_on(net, rgb, clicks, None) - expected[-1]).max() > 1e-3


def test_predictor_with_zoom_in_net_size_and_brs_runs(tmp_path):
    """The previous mask follows the zoom-in crop and the network's smaller size; f-BRS runs on top."""
    save_checkpoint(tmp_path / "m.pt", _prev_model())
    rgb = np.ascontiguousarray(np.repeat(np.repeat(_scene(), 3, 0), 3, 1))
    p = Predictor.load(tmp_path / "m.pt", device="cpu", max_size=240, net_size=160,
                       zoom_in=ZoomIn(skip_clicks=1, target=96))
    p.set_image(rgb)
    clicks = [Click(120, 90, True), Click(20, 20, False), Click(100, 80, True)]
    for k in range(1, 4):
        prob = p.predict(clicks[:k])
        assert prob.shape == rgb.shape[:2] and 0.0 <= prob.min() and prob.max() <= 1.0
    assert "previous mask" in p.name


@pytest.mark.parametrize("name", ["onnxruntime", "openvino"])
def test_engines_run_the_six_channel_input(name):
    """The ONNX Runtime / OpenVINO backbone of a previous-mask model matches eager PyTorch click after click."""
    from models import engines

    if not engines.available(name):
        pytest.skip(f"{name} is not installed (pip install '.[bench]')")
    net = with_prev_mask(random_model("efficientnet_lite0"))
    with torch.no_grad():
        next(m for m in net.backbone.modules() if isinstance(m, torch.nn.Conv2d)).weight[:, PREV].normal_(0, 0.02)
    eager = Predictor(net, device="cpu", brs=None, snap=None)
    fast = Predictor(net, device="cpu", brs=None, snap=None, engine=name)
    fast._engine.background = False
    rgb = _scene(70, 90)
    for p in (eager, fast):
        p.set_image(rgb)
    clicks = [Click(45, 35, True), Click(10, 60, False), Click(70, 20, True)]
    for k in range(1, 4):
        assert np.abs(eager.predict(clicks[:k]) - fast.predict(clicks[:k])).max() <= engines.TOLERANCE
    (shape,) = fast._engine.max_diff
    assert shape[1] == 6 and fast._engine.ready(shape)
