"""Region helpers shared by the predictor and the refinements (`models.grabcut`, `models.colour_refine`,
`models.edge_snap`, `models.refiner`): the crop around a predicted object, the parts of a mask that hold a positive
click, the mask without its specks, whether a crop's mask was cut by it, clicks in a crop's or a resized image's coordinates, the click discs
every refinement honours, and the downscale to the working size."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from models.clicks import Click
from models.metrics import object_box


def crop_box(fg: np.ndarray, clicks: Sequence[Click], margin_frac: float = 0.25,
             min_margin: int = 16) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) around the foreground and positive clicks plus a margin (a fraction of the box's
    size, at least `min_margin` px), clipped to the image; the whole image when there is neither."""
    h, w = fg.shape
    box = object_box(fg, clicks)
    if box is None:
        return 0, h, 0, w
    x0, y0, x1, y1 = box
    my = max(min_margin, int((y1 - y0) * margin_frac))
    mx = max(min_margin, int((x1 - x0) * margin_frac))
    return max(0, y0 - my), min(h, y1 + my), max(0, x0 - mx), min(w, x1 + mx)


def clicked_parts(seg: np.ndarray, clicks: Sequence[Click]) -> np.ndarray:
    """The connected parts (8-connected) of `seg` that hold a positive click (stray specks elsewhere left out)."""
    n, labels = cv2.connectedComponents(seg.astype(np.uint8), connectivity=8)
    h, w = seg.shape
    keep = {int(labels[y, x]) for x, y in (c.pixel() for c in clicks if c.positive)
            if 0 <= x < w and 0 <= y < h and labels[y, x] > 0}
    return np.isin(labels, list(keep)) if keep else np.zeros_like(seg, dtype=bool)


def touches_cut_edge(obj: np.ndarray, box: tuple[int, int, int, int], shape: tuple[int, int], band: int) -> bool:
    """True when `obj` (a crop's mask) comes within `band` px of an edge of the crop that is not the image's."""
    y0, y1, x0, x1 = box
    h, w = shape
    return (y0 > 0 and obj[:band].any()) or (y1 < h and obj[-band:].any()) or \
        (x0 > 0 and obj[:, :band].any()) or (x1 < w and obj[:, -band:].any())


def honour_clicks(prob: np.ndarray, clicks: Sequence[Click], radius: int) -> np.ndarray:
    """`prob` (float32 HxW) with the disc of `radius` around each click set to its side (1 positive, 0
    negative), in place and returned: what every refinement does last, so that a click is always honoured."""
    for c in clicks:
        cv2.circle(prob, c.pixel(), radius, 1.0 if c.positive else 0.0, thickness=-1)
    return prob


def crop_clicks(clicks: Sequence[Click], box: tuple[int, int, int, int]) -> list[Click]:
    """`clicks` in the coordinates of the crop `box` (y0, y1, x0, x1)."""
    y0, _, x0, _ = box
    return [Click(c.x - x0, c.y - y0, c.positive) for c in clicks]


def reaches_cut_edge(mask: np.ndarray, left: bool, top: bool, right: bool, bottom: bool,
                      share: float = 0.05) -> bool:
    """True when more than `share` of a crop side that cuts through the image is covered by `mask`."""
    sides = [(left, mask[:, 0]), (top, mask[0]), (right, mask[:, -1]), (bottom, mask[-1])]
    return any(cut and float(edge.mean()) > share for cut, edge in sides)


def fit_longest(rgb: np.ndarray, longest: int) -> np.ndarray:
    """`rgb` downscaled (area) so that its longest side is at most `longest`; itself (contiguous) if it is."""
    h, w = rgb.shape[:2]
    s = min(1.0, longest / max(h, w))
    if s == 1.0:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def scaled_clicks(clicks: Sequence[Click], src: tuple[int, int], dst: tuple[int, int]) -> list[Click]:
    """Clicks on an image of (h, w) `src` mapped onto its resized copy of (h, w) `dst`, clipped into it."""
    sx, sy = dst[1] / src[1], dst[0] / src[0]
    if sx == 1.0 and sy == 1.0:
        return list(clicks)
    mapped = [c.mapped(sx, sy) for c in clicks]
    return [Click(min(dst[1] - 1.0, max(0.0, m.x)), min(dst[0] - 1.0, max(0.0, m.y)), m.positive) for m in mapped]


#: specks: parts of a mask (or holes in it) smaller than this fraction of the mask's area, at least SPECK_MIN_PX
SPECK_FRACTION = 0.005
SPECK_MIN_PX = 4


def remove_specks(mask: np.ndarray, clicks: Sequence[Click], fraction: float = SPECK_FRACTION,
                  min_px: int = SPECK_MIN_PX) -> np.ndarray:
    """`mask` without its specks: parts (8-connected) smaller than `fraction` of the mask's area (at least `min_px`)
    that hold no positive click are dropped, holes (4-connected background not reaching the image's border) as
    small that hold no negative click are filled. A copy; `mask` itself is not changed. Like SAM's
    `remove_small_regions`, relative to the object so that a small object keeps its detail."""
    m = np.asarray(mask, dtype=bool)
    area = int(m.sum())
    if area == 0:
        return m.copy()
    limit = max(int(min_px), int(area * fraction))
    out = m.copy()
    h, w = m.shape
    for value, connectivity, positive in ((True, 8, True), (False, 4, False)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats((m == value).astype(np.uint8), connectivity=connectivity)
        if n <= 2:  # one part / no hole apart from the background
            continue
        small = stats[:, cv2.CC_STAT_AREA] < limit
        small[0] = False
        if not value:  # background reaching the border is not a hole
            x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
            x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
            small &= (x0 > 0) & (y0 > 0) & (x1 < w) & (y1 < h)
        if value and small.sum() == n - 1:  # every part is a speck: keep the largest
            small[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = False
        for x, y in (c.pixel() for c in clicks if c.positive == positive):
            if 0 <= x < w and 0 <= y < h:
                small[labels[y, x]] = False
        if small.any():
            out[small[labels]] = not value
    return out


def despeckle(prob: np.ndarray, clicks: Sequence[Click], level: float = 0.5) -> np.ndarray:
    """`prob` with the specks of its mask at `level` (`remove_specks`) moved across it: a dropped part's pixels
    become 0, a filled hole's 1. The same array when there is none, else a copy."""
    m = np.asarray(prob) >= level
    clean = remove_specks(m, clicks)
    if np.array_equal(clean, m):
        return prob
    out = np.array(prob, copy=True)
    out[m & ~clean] = 0.0
    out[clean & ~m] = 1.0
    return out
