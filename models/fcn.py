"""FCN-32s / 16s / 8s heads (Long et al. 2015, §4.1–4.2) with one foreground logit, over any backbone; and FCN-4s,
the same fusion one level finer (ResNet and EfficientNet-Lite backbones), for boundaries of small objects."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.backbones import FeatureBackbone, add_input_channel, build_backbone, tap_stride4
from models.refiner import Refiner
from models.spec import ModelSpec

#: Inputs smaller than this are padded (replicate) before the trunk and cropped after.
MIN_SIZE = 64
#: Inputs are padded (replicate, at the bottom and right) to a multiple of this, the backbones' coarsest stride,
#: and the logits cut back (`fit_to`). TF-"same" convolutions (EfficientNet-Lite) pad a stride-2 layer's odd
#: input evenly and an even one at its end only, so each layer's grid lands half an input pixel earlier on an odd
#: size: on a 481 x 321 photo (odd at all five levels) the stride-32 features sit 15.5 px up-left of where the
#: network learned them on its 384-px (multiple of 32) training crops, and its masks came out 7-10 px down-right
#: of the object (MODEL_CARD, "Masks on photos whose sides are not multiples of 32").
ALIGN = 32
#: The previous-mask channel enters the first convolution multiplied by this. Its weights start at zero and Adam
#: moves a weight by about the learning rate per step whatever its gradient's scale, so the gain is that channel's
#: learning-rate multiplier: with the trained body fine-tuned at 2e-5, its weights learn at an effective 5e-4 (RITM's
#: rate for new layers, 10x its backbone's). At a gain of 10 and 1e-4 they had moved 0.002 in 600 steps against
#: the click maps' 0.3, while the body drifted (runs/prev2, MODEL_CARD).
PREV_GAIN = 25.0
#: The stride-4 features (FCN-4s) enter their score layer multiplied by this: the learning-rate multiplier of a
#: new zero-initialised layer on a trained body, as PREV_GAIN (an FCN-8s checkpoint made FCN-4s by `with_stride4`
#: is fine-tuned at 2e-5 to 5e-5). At 4 its weights had moved 3e-4 in 200 steps at 3e-5, against the stride-8
#: layer's 0.02 (runs/fcn4_g4). Part of the architecture: checkpoints are trained with it.
FINE_GAIN = 16.0


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights (channels, 1, k, k) of a per-channel bilinear upsampling filter."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.ogrid[:kernel_size, :kernel_size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    w = torch.from_numpy(filt.astype(np.float32))
    return w.expand(channels, 1, kernel_size, kernel_size).clone()


class Upsample(nn.Module):
    """×factor upsampling: transposed conv initialised to bilinear ('deconv') or fixed bilinear."""

    def __init__(self, factor: int, mode: str, channels: int = 1) -> None:
        super().__init__()
        self.factor, self.mode = factor, mode
        if mode == "deconv":
            k = 2 * factor
            self.deconv = nn.ConvTranspose2d(channels, channels, k, stride=factor, padding=factor // 2,
                                             groups=channels, bias=False)
            with torch.no_grad():
                self.deconv.weight.copy_(bilinear_kernel(channels, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "deconv":
            return polyphase_deconv(x, self.deconv.weight, self.factor, self.factor // 2)
        return F.interpolate(x, scale_factor=self.factor, mode="bilinear", align_corners=False)


def score_map(f: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution of the features `f` (N, C, h, w) to one score map (N, 1, h, w): as a matrix product when
    `f` is contiguous (an engine's features; 5-10x faster on the CPU than the convolution, which first reorders
    its input), else the convolution itself (channels-last features of eager PyTorch). The same sums."""
    n, c, h, w = f.shape
    if not f.is_contiguous():
        return F.conv2d(f, weight, bias)
    return (weight.reshape(1, c) @ f.reshape(n, c, h * w)).reshape(n, 1, h, w) + bias.reshape(1, 1, 1, 1)


def polyphase_deconv(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int) -> torch.Tensor:
    """`F.conv_transpose2d(x, weight, stride=stride, padding=padding, groups=C)` for a kernel of 2 x stride
    (each channel by its own filter; a single filter is used for every channel of x), computed by phases: output
    pixel q * stride + a (q + padding, to be exact) sums 2 x 2 input pixels times the kernel taps of phase a, so
    one ordinary 2 x 2 convolution with stride^2 output channels per channel, then a pixel shuffle, gives it.
    The same sums (to float rounding), 2-4x faster on the CPU than PyTorch's transposed convolution, whose
    one-channel case takes its slow generic path (0.75 vs 0.2 ms for the head's x8 upsampling at 481x321)."""
    n, c, h, w = x.shape
    s = int(stride)
    k = weight.reshape(-1, 2 * s, 2 * s)
    if k.shape[0] != c:  # one filter for every channel (f-BRS's per-feature maps, or a shared kernel)
        k = k[:1].expand(c, -1, -1)
    taps = torch.tensor([[a + s, a] for a in range(s)], device=x.device)  # kernel index of phase a, tap u
    phases = k[:, taps[:, None, :, None], taps[None, :, None, :]]        # (c, s, s, 2, 2)
    y = F.conv2d(F.pad(x, (1, 1, 1, 1)), phases.reshape(c * s * s, 1, 2, 2).to(x.dtype), groups=c)
    full = F.pixel_shuffle(y, s)                                          # (n, c, s (h + 1), s (w + 1))
    out_h, out_w = (h - 1) * s - 2 * padding + 2 * s, (w - 1) * s - 2 * padding + 2 * s
    return full[..., padding:padding + out_h, padding:padding + out_w]


def padded_size(n: int) -> int:
    """The side an input side `n` is padded to before the trunk: a multiple of `ALIGN`, at least `MIN_SIZE`."""
    return max(MIN_SIZE, -(-int(n) // ALIGN) * ALIGN)


def fit_to(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """`x` (N, C, H, W) cut to (h, w) at its bottom and right (replicate-padded there where it is smaller).

    The input was padded at its bottom and right (`IFCN.features`), so every map's grid starts at the input's
    top-left pixel and an upsampled map covers the padded input: its cells past the input's end are dropped.
    (Resizing the upsampled map to the input instead, as this did before 2026-12-05, squeezed it towards the
    top-left by up to 7 px.)"""
    H, W = x.shape[-2:]
    if H < h or W < w:
        x = F.pad(x, (0, max(0, w - W), 0, max(0, h - H)), mode="replicate")
    return x[..., :h, :w]


def _input_gain(spec: ModelSpec) -> torch.Tensor:
    """(1, C, 1, 1): 1 for RGB and the click maps, PREV_GAIN for the previous mask."""
    gain = torch.ones(1, spec.in_channels, 1, 1)
    gain[:, 5:] = PREV_GAIN
    return gain


class IFCN(nn.Module):
    """iFCN: 5-channel input (6 with `spec.prev_mask`) → backbone → FCN-{4,8,16,32}s fusion → one logit per input pixel; optionally a
    learned refiner (`models.refiner`) that the predictor runs on the probability (not part of `forward`)."""

    def __init__(self, spec: ModelSpec, backbone: FeatureBackbone) -> None:
        super().__init__()
        self.spec = spec
        self.backbone = backbone
        ch = backbone.channels
        self.score32 = nn.Conv2d(ch[32], 1, 1)
        if spec.stride <= 16:
            self.score16 = nn.Conv2d(ch[16], 1, 1)
            self.up32to16 = Upsample(2, spec.upsample)
        if spec.stride <= 8:
            self.score8 = nn.Conv2d(ch[8], 1, 1)
            self.up16to8 = Upsample(2, spec.upsample)
        if spec.stride == 4:
            tap_stride4(backbone)
            self.score4 = nn.Conv2d(backbone.channels[4], 1, 1)
            self.up8to4 = Upsample(2, spec.upsample)
        self.up_final = Upsample(spec.stride, spec.upsample)
        self.refiner = Refiner(spec.refiner["width"]) if spec.refiner is not None else None
        self.register_buffer("input_gain", _input_gain(spec), persistent=False)
        for m in (self.score32, getattr(self, "score16", None), getattr(self, "score8", None),
                  getattr(self, "score4", None)):
            if m is not None:  # FCN: score layers start at zero
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), x.shape[-2:])

    def features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """The backbone's feature maps by stride (8, 16, 32; and 4 for FCN-4s, times FINE_GAIN) for a
        (N, spec.in_channels, h, w) input."""
        if self.spec.prev_mask:
            x = x * self.input_gain
        h, w = x.shape[-2:]
        ph, pw = padded_size(h) - h, padded_size(w) - w
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        f = self.backbone(x)
        if 4 in f:
            f[4] = f[4] * FINE_GAIN
        return f

    def head(self, f: dict[int, torch.Tensor], size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """FCN fusion of `features(x)` into one logit per pixel of the (h, w) = `size` input.

        Everything here is linear in the features (1x1 scores, upsampling, sums)."""
        return self.upsample_logits(self.fuse(f), size)

    def fuse(self, f: dict[int, torch.Tensor]) -> torch.Tensor:
        """The FCN-{stride}s logit map at 1/stride of the input: the head before its last upsampling."""
        return self.combine({s: score_map(f[s], getattr(self, f"score{s}").weight, getattr(self, f"score{s}").bias)
                             for s in self.head_strides})

    def combine(self, scores: dict[int, torch.Tensor]) -> torch.Tensor:
        """FCN fusion of score maps by stride: upsample the coarser, add (linear, no bias; each channel on its
        own, so f-BRS can push one map per feature channel through it at once)."""
        s = scores[32]
        if self.spec.stride <= 16:
            s = fit_to(self.up32to16(s), *scores[16].shape[-2:]) + scores[16]
        if self.spec.stride <= 8:
            s = fit_to(self.up16to8(s), *scores[8].shape[-2:]) + scores[8]
        if self.spec.stride == 4:
            s = fit_to(self.up8to4(s), *scores[4].shape[-2:]) + scores[4]
        return s

    def upsample_logits(self, s: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """`fuse`'s logit map upsampled to the (h, w) = `size` input: the upsampled map covers the input from its
        top-left pixel and a little past its end, which is cut off (`fit_to`; so are padded inputs' pads)."""
        return fit_to(self.up_final(s), int(size[0]), int(size[1]))

    @property
    def head_strides(self) -> tuple[int, ...]:
        """The feature strides the head reads."""
        return tuple(s for s in (4, 8, 16, 32) if s >= self.spec.stride)


def build_ifcn(spec: ModelSpec, weights: str | None = None, allow_download: bool = False) -> IFCN:
    """Build an iFCN for `spec`; `weights` (None, 'imagenet', or a file) go to the backbone."""
    backbone = build_backbone(spec.backbone, weights=weights, extra_init=spec.extra_init,
                              allow_download=allow_download)
    if spec.prev_mask:
        add_input_channel(backbone)
    return IFCN(spec, backbone)


def with_stride4(model: IFCN) -> IFCN:
    """An FCN-4s model made from the FCN-8s `model` (its backbone shared, its score layers and inner upsamplings
    copied): the backbone's stride-4 features get a score layer that starts at zero, the fused stride-8 map is
    upsampled x2 to them and the result x4 to the input (both bilinear to start), so it predicts as before (to the
    difference between x2 then x4 and the trained x8 upsampling) until fine-tuned. A new module, so that its
    parameters come in the order of an FCN-4s built from its spec (a resumed run's optimiser state). Refuses other
    strides and backbones without a stride-4 tap."""
    if model.spec.stride == 4:
        return model
    if model.spec.stride != 8:
        raise ValueError(f"only an FCN-8s model can be made FCN-4s, not FCN-{model.spec.stride}s")
    ref = model.score8.weight
    new = IFCN(replace(model.spec, stride=4), model.backbone).to(ref)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("up_final.")}
    missing, unexpected = new.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith(("score4.", "up8to4.", "up_final.")) for k in missing), missing
    return new


def with_prev_mask(model: IFCN) -> IFCN:
    """`model` given the previous-mask input (in place; returned): its spec gains `prev_mask` and its first
    convolution a sixth channel with zero weights, so it predicts exactly as before until trained with it."""
    if model.spec.prev_mask:
        return model
    add_input_channel(model.backbone)
    model.spec = replace(model.spec, prev_mask=True)
    model.input_gain = _input_gain(model.spec).to(model.input_gain.device)
    return model
