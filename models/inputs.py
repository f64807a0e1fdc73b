"""Building the iFCN input from an image and clicks: RGB + U_pos + U_neg (5 channels), and for a model with the
previous-mask input (`ModelSpec.prev_mask`) the previous prediction's probability as a sixth."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from models.clicks import Click, distance_maps
from models.spec import ModelSpec


def normalize_rgb(rgb: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """uint8 HxWx3 → float32 (3, H, W) scaled to [0, 1] and normalised by the spec's mean/std."""
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(3, 1, 1)
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) * np.float32(1.0 / 255.0)
    return (x - mean) / std


def scale_maps(maps: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Distance maps (2, H, W) in pixels → the network's scale (divided by the clamp, so 0..1)."""
    return np.asarray(maps, dtype=np.float32) * np.float32(1.0 / spec.clamp)


POS, NEG = 3, 4  # the channels of U_pos and U_neg, after RGB
PREV = 5  # the previous mask's channel, after RGB and the two click maps


def prev_channel(prev: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """The previous-mask channel (1, H, W) float32: the previous probability clipped to [0, 1], zero for None
    (no previous prediction: the first click)."""
    if prev is None:
        return np.zeros((1, height, width), np.float32)
    prev = np.asarray(prev, dtype=np.float32)
    if prev.shape != (height, width):
        raise ValueError(f"previous mask {prev.shape} and image {(height, width)} differ in size")
    return np.clip(prev, 0.0, 1.0)[None]


def extra_channels(maps: np.ndarray, spec: ModelSpec, prev: np.ndarray | None = None) -> np.ndarray:
    """The channels after RGB: the scaled (2, H, W) distance maps and, for a previous-mask model, `prev`
    (`prev_channel`) → float32 (spec.in_channels - 3, H, W). The predictor stacks them on its normalised image."""
    scaled = scale_maps(maps, spec)
    if not spec.prev_mask:
        return scaled
    return np.concatenate([scaled, prev_channel(prev, *maps.shape[1:])])


def make_input_from_maps(rgb: np.ndarray, maps: np.ndarray, spec: ModelSpec,
                         prev: np.ndarray | None = None) -> np.ndarray:
    """Stack normalised RGB with scaled (2, H, W) distance maps (and, for a previous-mask model, `prev`) →
    float32 (spec.in_channels, H, W)."""
    if rgb.shape[:2] != maps.shape[1:]:
        raise ValueError(f"image {rgb.shape[:2]} and distance maps {maps.shape[1:]} differ in size")
    return np.concatenate([normalize_rgb(rgb, spec), extra_channels(maps, spec, prev)])


def make_input(rgb: np.ndarray, clicks: Iterable[Click], spec: ModelSpec,
               prev: np.ndarray | None = None) -> np.ndarray:
    """The iFCN input for `rgb` and `clicks` (and the previous probability `prev`, used by a previous-mask
    model only): float32 (spec.in_channels, H, W)."""
    h, w = rgb.shape[:2]
    return make_input_from_maps(rgb, distance_maps(clicks, h, w, spec.clamp), spec, prev)
