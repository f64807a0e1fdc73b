"""Region helpers shared by the predictor and the refinements (`models.grabcut`, `models.colour_refine`,
`models.edge_snap`, `models.refiner`): the crop around a predicted object, the parts of a mask that hold a positive
click, the mask without its specks, whether a crop's mask was cut by it, clicks in a crop's or a resized image's coordinates, the click discs
every refinement honours, and the downscale to the working size."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from models.clicks import Click, paint_discs
from models.metrics import object_box

#: The working image's longest side: a larger photo is reduced to it, and masks are snapped and refined at its
#: size (then snapped once more at the photo's own size, `full_res`).
DEFAULT_MAX_SIZE = 1024
#: The network's input's longest side for a whole-image run, when smaller than the working image's: the network
#: runs on the working image reduced to it (the scale the default model was trained at, `--base-size 512`) and
#: its probability is scaled back up; zoom-in's crops (sizes in working pixels) come from the photo itself and
#: are never reduced below that scale. None: the network sees the working image. A photo up to 512 px is the
#: working image and the network's input alike; a larger one gains its detail where the masks are made
#: (MODEL_CARD, "Working size 1024").
DEFAULT_NET_SIZE: int | None = 512


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
    negative), in place and returned: what every refinement does last, so that a click is always honoured.
    Where discs of both sides overlap, each pixel takes its nearest click's side (`disc_pixels`)."""
    return paint_discs(prob, clicks, radius, 1.0, 0.0)


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
    out = m.copy()
    found = _specks(m, clicks, fraction, min_px)
    if found is not None:
        box, drop, fill = found
        view = out[box]
        view[drop] = False
        view[fill] = True
    return out


def despeckle(prob: np.ndarray, clicks: Sequence[Click], level: float = 0.5) -> np.ndarray:
    """`prob` with the specks of its mask at `level` (`remove_specks`) moved across it: a dropped part's pixels
    become 0, a filled hole's 1. The same array when there is none, else a copy."""
    found = _specks(np.asarray(prob) >= level, clicks, SPECK_FRACTION, SPECK_MIN_PX)
    if found is None:
        return prob
    box, drop, fill = found
    out = np.array(prob, copy=True)
    view = out[box]
    view[drop] = 0.0
    view[fill] = 1.0
    return out


def _specks(m: np.ndarray, clicks: Sequence[Click], fraction: float,
            min_px: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """(box, parts to drop, holes to fill) of a bool mask, the two within `box` (the mask's bounding box grown by
    a pixel: every part and hole lies in it, and background touching its edge reaches the image's border); None
    when there is no speck."""
    u = np.ascontiguousarray(m, dtype=np.uint8)
    area = cv2.countNonZero(u)
    if area == 0:
        return None
    limit = max(int(min_px), int(area * fraction))
    bx, by, bw, bh = cv2.boundingRect(u)
    h, w = u.shape
    y0, y1, x0, x1 = max(0, by - 1), min(h, by + bh + 1), max(0, bx - 1), min(w, bx + bw + 1)
    crop = u[y0:y1, x0:x1]
    ch, cw = crop.shape
    inside = [(x - x0, y - y0, c.positive) for x, y, c in ((*c.pixel(), c) for c in clicks)
              if x0 <= x < x1 and y0 <= y < y1]
    found = []
    for part, connectivity in ((True, 8), (False, 4)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(crop if part else 1 - crop, connectivity=connectivity)
        small = stats[:, cv2.CC_STAT_AREA] < limit
        small[0] = False  # the other side
        if part and n > 1 and small[1:].all():  # every part is a speck: keep the largest
            small[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = False
        if not part:  # background reaching the box's edge is not a hole
            left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
            small &= (left > 0) & (top > 0) & (left + stats[:, cv2.CC_STAT_WIDTH] < cw) \
                & (top + stats[:, cv2.CC_STAT_HEIGHT] < ch)
        for x, y, positive in inside:
            if positive == part:
                small[labels[y, x]] = False
        found.append(small[labels] if small.any() else np.zeros((ch, cw), bool))
    if not (found[0].any() or found[1].any()):
        return None
    return (slice(y0, y1), slice(x0, x1)), found[0], found[1]
