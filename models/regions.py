"""Region helpers shared by the refinements (`models.grabcut`, `models.colour_refine`, `models.edge_snap`,
`models.refiner`): the crop around a predicted object, the parts of a mask that hold a positive click, whether a
crop's mask was cut by it, clicks in a crop's coordinates, and the click discs every refinement honours."""
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
