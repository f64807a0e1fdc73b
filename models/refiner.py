"""Learned boundary refiner: a small CNN that turns the network's probability into a sharper mask.

The FCN-8s head predicts at 1/8 of the input and upsamples bilinearly, so its boundary is a smooth curve that
misses thin parts and fine detail (on objects of a few thousand pixels the logit map has a few cells across).
The refiner looks at the photo at full and half resolution, the probability and the clicks' distance maps (the
same encoding the network reads, `models.clicks.distance_maps`), and adds a correction to the probability's
logit at half resolution: an encoder to 1/4 with dilated convolutions (a reach of about 42 px), a decoder back
to 1/2 with a skip connection. It is trained on the predictor's own outputs along simulated correction sequences
(`training.refiner_pack`, `training.refiner_train`), and it runs on the transition band's box only (like edge
snapping), so its cost scales with the object's boundary, not with the photo.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.clicks import Click, distance_maps
from models.edge_snap import transition_box
from models.regions import crop_clicks, honour_clicks

#: Name of the refiner's architecture, stored in `ModelSpec.extra["refiner"]` of checkpoints that carry one.
ARCH = "refiner-v1"
#: The input probability is clipped to [EPS, 1 - EPS] before its logit is taken (uint8-quantised in training).
EPS = 1.0 / 512
#: How far (px) beyond the transition band the refiner may change the mask; also its box's margin, wider than
#: the refiner's receptive field (a radius of about 42 px, its upsamplings included), so that within the band
#: the box gives what the whole image would.
REACH = 48
#: The box starts on a multiple of this (the refiner's coarsest stride), so its grid is the whole image's.
ALIGN = 4
#: Click discs (px) set back to their side after refinement: a click is always honoured.
CLICK_RADIUS = 5


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)


class Refiner(nn.Module):
    """(N, 6, H, W) = RGB in [-1, 1], probability centred (2p - 1), two distance maps / 255 → logit correction
    (N, 1, H, W), added to the probability's logit by the caller (`refine_logits`)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.enc1 = nn.Sequential(_conv(6, w, 2), nn.ReLU(inplace=True), _conv(w, w), nn.ReLU(inplace=True))
        self.enc2 = nn.Sequential(_conv(w, 2 * w, 2), nn.ReLU(inplace=True), _conv(2 * w, 2 * w),
                                  nn.ReLU(inplace=True), _conv(2 * w, 2 * w, dilation=2), nn.ReLU(inplace=True),
                                  _conv(2 * w, 2 * w, dilation=4), nn.ReLU(inplace=True))
        self.dec = nn.Sequential(_conv(3 * w, w), nn.ReLU(inplace=True))
        self.out = nn.Conv2d(w, 1, 1)
        nn.init.zeros_(self.out.weight)  # starts as the identity: the probability passes unchanged
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = -h % ALIGN, -w % ALIGN  # padded to the coarsest stride, so every upsampling is exactly x2
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        e1 = self.enc1(x)
        d = F.interpolate(self.enc2(e1), scale_factor=2, mode="bilinear", align_corners=False)
        r = self.out(self.dec(torch.cat([d, e1], 1)))
        return F.interpolate(r, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]


def refiner_input(rgb: np.ndarray, prob: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
    """The refiner's (6, h, w) float32 input for an HxWx3 uint8 photo, its probability and clicks."""
    h, w = prob.shape
    x = np.empty((6, h, w), np.float32)
    x[:3] = rgb.transpose(2, 0, 1) * (2.0 / 255.0) - 1.0
    x[3] = prob * 2.0 - 1.0
    x[4:] = distance_maps(clicks, h, w) * (1.0 / 255.0)
    return x


def refine_logits(model: Refiner, x: torch.Tensor) -> torch.Tensor:
    """Refined logits (N, 1, H, W) for refiner inputs `x` (N, 6, H, W)."""
    p = ((x[:, 3:4] + 1.0) * 0.5).clamp(EPS, 1.0 - EPS)
    return torch.log(p) - torch.log1p(-p) + model(x)


def _box(prob: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the transition band widened by REACH, its origin on the ALIGN grid; None if flat."""
    box = transition_box(prob, REACH)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    return y0 - y0 % ALIGN, y1, x0 - x0 % ALIGN, x1


@torch.inference_mode()
def refine(model: Refiner, rgb: np.ndarray, prob: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
    """`prob` (float HxW in [0, 1]) refined with the photo `rgb` (HxWx3 uint8): float32 HxW in [0, 1].

    Only the box of the transition band, widened by `REACH`, is computed (its clicks mapped into it); outside it
    the probability is flat and kept. Click discs are set back to their side afterwards."""
    out = np.array(prob, dtype=np.float32, copy=True)
    box = _box(out)
    if box is not None:
        y0, y1, x0, x1 = box
        inside = crop_clicks(clicks, box)
        weight = model.out.weight
        x = torch.from_numpy(refiner_input(rgb[y0:y1, x0:x1], out[y0:y1, x0:x1], inside))[None]
        x = x.to(device=weight.device, dtype=weight.dtype)
        if weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous():
            x = x.contiguous(memory_format=torch.channels_last)  # the predictor's CPU copy: ~25 % faster
        out[y0:y1, x0:x1] = torch.sigmoid(refine_logits(model, x))[0, 0].float().cpu().numpy()
    return honour_clicks(out, clicks, CLICK_RADIUS)
