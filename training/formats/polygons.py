"""Masks as polygons and back, in the two pixel conventions the polygon formats use.

- *Centre* convention (labelme, whose reader draws with PIL, and YOLO, whose reader fills with
  `cv2.fillPoly`): pixel (x, y) is the point (x, y); a polygon covers the pixels inside it or on its
  outline. The outline through the centres of a mask's boundary pixels (`cv2.findContours`) gives
  back exactly the mask with its holes filled.
- *Area* convention (COCO, whose reader `pycocotools` rasterises this way): pixel (x, y) is the square
  [x, x+1) x [y, y+1); a polygon covers the pixels whose centre (x+0.5, y+0.5) lies inside it. The
  contour of the mask upsampled 2x, mapped back, runs a quarter pixel inside the mask's outline and
  likewise gives back exactly the mask with its holes filled.

Holes cannot be written in either (a polygon list is a union): `has_holes` says when they are lost.
"""
from __future__ import annotations

import cv2
import numpy as np


def _outer_contours(mask: np.ndarray) -> tuple[list[np.ndarray], bool]:
    """Outer contours (int (N, 2) x,y pixel indices) of a bool mask and whether it has holes."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return [], False
    parents = hierarchy[0][:, 3]
    outer = [c.reshape(-1, 2) for c, p in zip(contours, parents) if p < 0]
    return outer, bool((parents >= 0).any())


def has_holes(mask: np.ndarray) -> bool:
    """True when the mask has background enclosed by it (lost by every polygon format)."""
    return _outer_contours(mask)[1]


def centre_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """The mask's parts as float (N >= 3, 2) x,y polygons through boundary pixel centres (holes filled)."""
    out = []
    for c in _outer_contours(mask)[0]:
        pts = c.astype(np.float64)
        while len(pts) < 3:  # a one- or two-pixel part: repeat points, the outline still covers it
            pts = np.concatenate([pts, pts[-1:]])
        out.append(pts)
    return out


def area_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """The mask's parts as float (N >= 4, 2) x,y polygons in the area convention (holes filled)."""
    m = np.asarray(mask, dtype=bool)
    up = np.repeat(np.repeat(m, 2, axis=0), 2, axis=1)
    return [(c.astype(np.float64) + 0.5) / 2.0 for c in _outer_contours(up)[0]]


def fill_area(polygons: list, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise polygons (each flat [x0, y0, x1, y1, ...] or (N, 2)) in the area convention (union).

    A pixel is covered when its centre lies inside a polygon (even-odd rule, half-open at vertices),
    the rule `pycocotools` applies to COCO polygons.
    """
    h, w = shape
    out = np.zeros((h, w), dtype=bool)
    centres_x = np.arange(w) + 0.5
    for poly in polygons:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3 or not np.isfinite(pts).all():
            continue
        x0, y0 = pts[:, 0], pts[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        lo, hi = np.floor(pts[:, 1].min() - 0.5), np.ceil(pts[:, 1].max() - 0.5)
        for row in range(max(0, int(lo)), min(h - 1, int(hi)) + 1):
            yc = row + 0.5
            crosses = (y0 <= yc) != (y1 <= yc)
            if not crosses.any():
                continue
            xs = x0[crosses] + (yc - y0[crosses]) * (x1[crosses] - x0[crosses]) / (y1[crosses] - y0[crosses])
            inside = (xs[None, :] > centres_x[:, None]).sum(axis=1) % 2 == 1
            out[row] |= inside
    return out


def fill_centre(polygons: list, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise polygons ((N, 2) x,y) in the centre convention as labelme does (PIL, outline included)."""
    from PIL import Image, ImageDraw

    h, w = shape
    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    for poly in polygons:
        pts = [(float(x), float(y)) for x, y in np.asarray(poly, dtype=np.float64).reshape(-1, 2)]
        if len(pts) >= 3:
            draw.polygon(pts, outline=1, fill=1)
    return np.asarray(im, dtype=np.uint8).astype(bool)
