"""Overlay colours that stay visible on the image under them (skin, orange, dark or light backgrounds).

Contrast is measured as the CIE76 colour difference (ΔE, CIELAB, D65) between a colour and the mean
colour of the image pixels it is drawn over. A class colour that, blended at the overlay's opacity, is
too close to the image under its object is shown at another lightness (hue kept, so the class still reads
as its colour);
each object's outline is black or white, whichever differs more from the image along that outline.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

MIN_SHOWN_DELTA_E = 24.0    # an object's fill, blended at the overlay opacity, differs at least this much
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
MEAN_SAMPLE_PIXELS = 160_000  # the mean colours are taken on a grid of about this many pixels


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0..100) of uint8 RGB values, any leading shape (...x3)."""
    a = np.asarray(rgb, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(a, cv2.COLOR_RGB2LAB).reshape(np.shape(rgb))


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """uint8 RGB of CIELAB values (clipped to the sRGB gamut)."""
    a = np.asarray(lab, dtype=np.float32).reshape(-1, 1, 3)
    rgb = cv2.cvtColor(a, cv2.COLOR_LAB2RGB).reshape(np.shape(lab))
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def delta_e(rgb1: Sequence[int] | np.ndarray, rgb2: Sequence[int] | np.ndarray) -> np.ndarray:
    """CIE76 ΔE between uint8 RGB colours (broadcasting)."""
    return np.linalg.norm(rgb_to_lab(np.asarray(rgb1, np.uint8)) - rgb_to_lab(np.asarray(rgb2, np.uint8)), axis=-1)


def blend(color: np.ndarray, background: np.ndarray, opacity: float) -> np.ndarray:
    """`color` drawn at `opacity` over `background` (uint8 RGB, broadcasting)."""
    mix = opacity * np.asarray(color, np.float64) + (1 - opacity) * np.asarray(background, np.float64)
    return np.clip(np.round(mix), 0, 255).astype(np.uint8)


def readable_color(color: Sequence[int], background: Sequence[float], opacity: float = 1.0) -> tuple[int, int, int]:
    """`color`, or when it drawn at `opacity` over `background` (RGB, may be a mean) differs from it by less
    than MIN_SHOWN_DELTA_E, the nearest colour of its hue at another lightness that does."""
    c = np.asarray(color, np.uint8)
    bg = np.clip(np.round(np.asarray(background, np.float64)), 0, 255).astype(np.uint8)
    if float(delta_e(blend(c, bg, opacity), bg)) >= MIN_SHOWN_DELTA_E:
        return tuple(int(v) for v in c)
    lab = rgb_to_lab(c)
    candidates = np.repeat(lab[None, :], 21, axis=0)
    candidates[:, 0] = np.linspace(0, 100, 21)  # same hue and chroma, other lightness
    chroma = float(np.hypot(lab[1], lab[2]))
    if chroma > 1e-3:  # give a washed-out colour some chroma so its hue shows
        candidates[:, 1:] = lab[1:] * max(1.0, 45.0 / chroma)
    rgbs = lab_to_rgb(candidates)
    scores = delta_e(blend(rgbs, bg, opacity), np.broadcast_to(bg, rgbs.shape))
    ok = scores >= MIN_SHOWN_DELTA_E
    if ok.any():  # the readable candidate nearest the class colour
        change = np.where(ok, delta_e(rgbs, np.broadcast_to(c, rgbs.shape)), np.inf)
        return tuple(int(v) for v in rgbs[int(np.argmin(change))])
    return tuple(int(v) for v in rgbs[int(np.argmax(scores))])


def outline_color(background: Sequence[float]) -> tuple[int, int, int]:
    """Black or white, whichever differs more from `background` (RGB, may be a mean)."""
    bg = np.clip(np.round(np.asarray(background, np.float64)), 0, 255).astype(np.uint8)
    return BLACK if float(delta_e(BLACK, bg)) >= float(delta_e(WHITE, bg)) else WHITE


def object_colors(labels: np.ndarray, colors: np.ndarray, image: np.ndarray,
                  edges: np.ndarray | None = None, opacity: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(fill, outline) colour tables (256x3 uint8) for the objects of a label map drawn over `image`
    (HxWx3 uint8, same size): fills are `colors` made readable against the mean image colour under each
    object, outlines black or white against the mean image colour along each object's `edges`."""
    fill = np.array(colors, dtype=np.uint8, copy=True)
    outline = np.zeros_like(fill)
    flat = labels.ravel()
    present = np.unique(flat)
    present = present[present > 0]
    if not len(present):
        return fill, outline
    n = int(present.max()) + 1
    img = image.reshape(-1, 3).astype(np.float64)
    count = np.bincount(flat, minlength=n)[:n]
    sums = np.stack([np.bincount(flat, weights=img[:, k], minlength=n)[:n] for k in range(3)], axis=1)
    if edges is not None:
        e = edges.ravel()
        ecount = np.bincount(flat[e], minlength=n)[:n]
        esums = np.stack([np.bincount(flat[e], weights=img[e, k], minlength=n)[:n] for k in range(3)], axis=1)
    for i in present:
        mean = sums[i] / max(count[i], 1)
        fill[i] = readable_color(colors[i], mean, opacity)
        emean = esums[i] / ecount[i] if edges is not None and ecount[i] else mean
        outline[i] = outline_color(emean)
    return fill, outline


def overlay_colors(labels: np.ndarray, colors: np.ndarray, image: np.ndarray, current: np.ndarray | None,
                   current_color: Sequence[int], opacity: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """What the overlay draws over `image`: (fill table, outline table, current object's colour), each made
    visible against the image under it (object_colors, readable_color)."""
    from annotator.widgets.canvas import label_edges  # (the one edge definition the overlay draws)

    k = max(1, math.ceil(math.sqrt(labels.size / MEAN_SAMPLE_PIXELS)))  # means need no more pixels
    labels, image = labels[::k, ::k], image[::k, ::k]
    fill, outline = object_colors(labels, colors, image, label_edges(labels), max(opacity, 0.05))
    if current is not None and current[::k, ::k].any():  # (the overlay draws it 30/255 more opaque)
        current_color = readable_color(current_color, image[current[::k, ::k]].reshape(-1, 3).mean(axis=0),
                                       min(1.0, max(opacity, 0.05) + 30 / 255))
    return fill, outline, tuple(int(v) for v in current_color)
