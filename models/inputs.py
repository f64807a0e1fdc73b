"""Building the 5-channel iFCN input (RGB + U_pos + U_neg) from an image and clicks."""
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


def make_input_from_maps(rgb: np.ndarray, maps: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Stack normalised RGB with scaled (2, H, W) distance maps → float32 (5, H, W)."""
    if rgb.shape[:2] != maps.shape[1:]:
        raise ValueError(f"image {rgb.shape[:2]} and distance maps {maps.shape[1:]} differ in size")
    return np.concatenate([normalize_rgb(rgb, spec), scale_maps(maps, spec)])


def make_input(rgb: np.ndarray, clicks: Iterable[Click], spec: ModelSpec) -> np.ndarray:
    """The iFCN input for `rgb` and `clicks`: float32 (5, H, W)."""
    h, w = rgb.shape[:2]
    return make_input_from_maps(rgb, distance_maps(clicks, h, w, spec.clamp), spec)
