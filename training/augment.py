"""Geometric augmentation applied to an image, its instance mask and its clicks together.

Everything works on one uint8 label map (instance ids, 255 = void) so target and ignore mask follow the
image exactly; padding is filled with void (ignored by the loss) and, in the image, with the mean colour.
Clicks are (N, 2) int (x, y) in pixel centres; those that leave the canvas are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.metrics import object_box

VOID = 255


@dataclass(frozen=True)
class AugmentConfig:
    """Random scale range, horizontal flip probability, and the size the scale is relative to.

    With `base_size` the random scale is applied to the image first resized so its longer side is
    `base_size` px (the annotator shows the network images of a fixed longest side, 512 by default), so
    objects are trained at the size they are seen at; without it, to the image as stored.

    With `zoom_prob` p, an item is instead seen as the predictor's zoom-in (`models.predictor.ZoomIn`) shows
    it, with probability p: its object's box, grown by a random 1.2-1.8x, is scaled so its longer side is a
    random 0.6-1.0 of the crop (never smaller than the scale above would give) and the crop is centred on it.

    With `colour_prob` p, each of RITM's two photometric changes is applied with probability p (`photometric`):
    brightness and contrast, and a shift of each colour channel.

    With `paste_prob` p, an object of another photo of the same split is pasted onto a share p of the items
    before the rest (object folders only; `training.copy_paste`).
    """

    scale_min: float = 0.75
    scale_max: float = 1.25
    flip_prob: float = 0.5
    base_size: int | None = None
    zoom_prob: float = 0.0
    colour_prob: float = 0.0
    paste_prob: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.scale_min <= self.scale_max:
            raise ValueError(f"need 0 < scale_min <= scale_max, got {self.scale_min}, {self.scale_max}")
        if not 0.0 <= self.zoom_prob <= 1.0:
            raise ValueError(f"zoom probability must be in [0, 1], got {self.zoom_prob}")
        if not 0.0 <= self.colour_prob <= 1.0:
            raise ValueError(f"colour augmentation probability must be in [0, 1], got {self.colour_prob}")
        if not 0.0 <= self.paste_prob <= 1.0:
            raise ValueError(f"copy-paste probability must be in [0, 1], got {self.paste_prob}")
        if self.base_size is not None and self.base_size < 8:
            raise ValueError(f"base size must be at least 8 pixels, got {self.base_size}")


def scale_clicks(xy: np.ndarray, sx: float, sy: float, w: int, h: int) -> np.ndarray:
    """Map pixel-centre clicks onto an image resized by (sx, sy) to w x h."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    x = np.clip(np.floor((xy[:, 0] + 0.5) * sx), 0, w - 1)
    y = np.clip(np.floor((xy[:, 1] + 0.5) * sy), 0, h - 1)
    return np.stack([x, y], axis=1).astype(np.int32)


def resize(rgb: np.ndarray, labels: np.ndarray, pos: np.ndarray, neg: np.ndarray,
           size_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Resize image (bilinear), labels (nearest) and clicks to size_wh = (w, h)."""
    h0, w0 = labels.shape
    w, h = max(1, int(size_wh[0])), max(1, int(size_wh[1]))
    if (w, h) == (w0, h0):
        return rgb, labels, pos, neg
    rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)
    sx, sy = w / w0, h / h0
    return rgb, labels, scale_clicks(pos, sx, sy, w, h), scale_clicks(neg, sx, sy, w, h)


def hflip(rgb: np.ndarray, labels: np.ndarray, pos: np.ndarray,
          neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror left-right."""
    w = labels.shape[1]

    def flip(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, np.int32).reshape(-1, 2).copy()
        xy[:, 0] = w - 1 - xy[:, 0]
        return xy

    return rgb[:, ::-1].copy(), labels[:, ::-1].copy(), flip(pos), flip(neg)


def crop(rgb: np.ndarray, labels: np.ndarray, pos: np.ndarray, neg: np.ndarray, x0: int, y0: int,
         size: int, fill_rgb: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The size x size window at (x0, y0) (may reach outside: padded), clicks outside it dropped."""
    h, w = labels.shape
    out_rgb = np.empty((size, size, 3), np.uint8)
    out_rgb[:] = np.asarray(fill_rgb, np.uint8)
    out_lab = np.full((size, size), VOID, np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + size), min(h, y0 + size)
    if sx1 > sx0 and sy1 > sy0:
        out_rgb[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        out_lab[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = labels[sy0:sy1, sx0:sx1]

    def shift(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, np.int32).reshape(-1, 2) - np.array([x0, y0], np.int32)
        keep = (xy[:, 0] >= 0) & (xy[:, 0] < size) & (xy[:, 1] >= 0) & (xy[:, 1] < size)
        return xy[keep]

    return out_rgb, out_lab, shift(pos), shift(neg)


def _origin(extent: int, size: int, anchor: int, rng: np.random.Generator | None) -> int:
    """A window start along one axis that keeps `anchor` inside (random if rng is given)."""
    if extent >= size:
        lo, hi = max(0, anchor - size + 1), min(anchor, extent - size)
    else:
        lo, hi = extent - size, 0
    if rng is None:
        return 0 if extent < size else int(np.clip(anchor - size // 2, lo, hi))
    return int(rng.integers(lo, hi + 1))


ZOOM_EXPANSION = (1.2, 1.8)  # the object's box grown by this much (ZoomIn's default: 1.4)
ZOOM_FILL = (0.6, 1.0)  # the grown box's longer side as a share of the crop


def _zoomed(rgb: np.ndarray, labels: np.ndarray, pos: np.ndarray, neg: np.ndarray, size: int, s: float,
            box: tuple[int, int, int, int], rng: np.random.Generator, fill_rgb: tuple[int, int, int]):
    """The crop around `box` at zoom-in scale (at least `s`), cut before it is resized; None if it would hold
    no positive click."""
    h, w = labels.shape
    grown = max(box[2] - box[0], box[3] - box[1]) * float(rng.uniform(*ZOOM_EXPANSION))
    side = max(2, int(round(size / max(s, size * float(rng.uniform(*ZOOM_FILL)) / grown))))
    cx = (box[0] + box[2]) / 2 + rng.uniform(-0.1, 0.1) * side
    cy = (box[1] + box[3]) / 2 + rng.uniform(-0.1, 0.1) * side
    x0 = min(max(int(round(cx - side / 2)), min(0, w - side)), max(0, w - side))
    y0 = min(max(int(round(cy - side / 2)), min(0, h - side)), max(0, h - side))
    inside = (pos[:, 0] >= x0) & (pos[:, 0] < x0 + side) & (pos[:, 1] >= y0) & (pos[:, 1] < y0 + side)
    if len(pos) and not inside.any():
        return None
    out = crop(rgb, labels, pos, neg, x0, y0, side, fill_rgb)
    return resize(*out, (size, size))


#: RITM's photometric augmentation (albumentations RandomBrightnessContrast(0.25, 0.15), RGBShift(10, 10, 10)):
#: brightness offset as a share of 255, contrast gain offset, per-channel shift in grey levels
BRIGHTNESS, CONTRAST, CHANNEL_SHIFT = 0.25, 0.15, 10


def photometric(rgb: np.ndarray, rng: np.random.Generator, prob: float) -> np.ndarray:
    """RITM's colour augmentation of a uint8 RGB image: with probability `prob` each, brightness and contrast
    (x * (1 + a) + b * 255, a in +-CONTRAST, b in +-BRIGHTNESS), then a shift of each channel by up to
    CHANNEL_SHIFT grey levels; clipped to uint8. Geometry, labels and clicks are untouched."""
    gain, offset = 1.0, np.zeros(3, np.float32)
    if rng.random() < prob:
        gain = 1.0 + float(rng.uniform(-CONTRAST, CONTRAST))
        offset += float(rng.uniform(-BRIGHTNESS, BRIGHTNESS)) * 255.0
    if rng.random() < prob:
        offset += rng.uniform(-CHANNEL_SHIFT, CHANNEL_SHIFT, 3).astype(np.float32)
    if gain == 1.0 and not offset.any():
        return rgb
    out = rgb.astype(np.float32) * gain + offset
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def random_transform(rgb: np.ndarray, labels: np.ndarray, pos: np.ndarray, neg: np.ndarray, size: int,
                     rng: np.random.Generator, cfg: AugmentConfig, fill_rgb: tuple[int, int, int],
                     object_id: int | None = None):
    """Random scale (of the stored image, or of it at `cfg.base_size`), flip and a size x size crop that keeps at
    least one positive click; or, with `cfg.zoom_prob`, the zoomed-in view of `object_id`'s box. Then, with
    `cfg.colour_prob`, the photometric changes."""
    rgb, labels, pos, neg = _geometric(rgb, labels, pos, neg, size, rng, cfg, fill_rgb, object_id)
    if cfg.colour_prob > 0:
        rgb = photometric(rgb, rng, cfg.colour_prob)
    return rgb, labels, pos, neg


def _geometric(rgb: np.ndarray, labels: np.ndarray, pos: np.ndarray, neg: np.ndarray, size: int,
               rng: np.random.Generator, cfg: AugmentConfig, fill_rgb: tuple[int, int, int],
               object_id: int | None):
    """The scale, flip and crop of `random_transform`."""
    h, w = labels.shape
    s = float(rng.uniform(cfg.scale_min, cfg.scale_max))
    if cfg.base_size:
        s *= cfg.base_size / max(h, w)
    zoom = cfg.zoom_prob > 0 and rng.random() < cfg.zoom_prob and object_id is not None
    box = object_box(labels == object_id) if zoom else None
    if box is not None:
        out = _zoomed(rgb, labels, pos, neg, size, s, box, rng, fill_rgb)
        if out is not None:
            return hflip(*out) if rng.random() < cfg.flip_prob else out
    rgb, labels, pos, neg = resize(rgb, labels, pos, neg, (round(w * s), round(h * s)))
    if rng.random() < cfg.flip_prob:
        rgb, labels, pos, neg = hflip(rgb, labels, pos, neg)
    h, w = labels.shape
    if len(pos):
        ax, ay = pos[int(rng.integers(len(pos)))]
    else:
        ax, ay = w // 2, h // 2
    x0 = _origin(w, size, int(ax), rng)
    y0 = _origin(h, size, int(ay), rng)
    return crop(rgb, labels, pos, neg, x0, y0, size, fill_rgb)


def fit(rgb: np.ndarray, labels: np.ndarray, pos: np.ndarray, neg: np.ndarray, size: int,
        fill_rgb: tuple[int, int, int]):
    """Deterministic: shrink so the longer side is at most `size`, then pad to size x size (top-left)."""
    h, w = labels.shape
    s = min(1.0, size / max(h, w))
    if s < 1.0:
        rgb, labels, pos, neg = resize(rgb, labels, pos, neg, (min(size, round(w * s)), min(size, round(h * s))))
    return crop(rgb, labels, pos, neg, 0, 0, size, fill_rgb)
