"""IoU and the NoC click oracle (protocol of RITM's evaluator), shared by training, benchmark and tests."""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from models.clicks import Click


def iou(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """Intersection over union of two boolean masks, pixels in `ignore` left out; 1.0 if both empty."""
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    if ignore is not None:
        valid = ~np.asarray(ignore, dtype=bool)
        pred, gt = pred & valid, gt & valid
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(pred & gt)) / float(union)


def _padded_distance(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance to the nearest pixel outside `mask`, the image border counting as outside."""
    padded = np.pad(mask.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def object_box(mask: np.ndarray, clicks: Iterable[Click] = ()) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), ends exclusive, of the pixels of `mask` and of the positive clicks; None if neither."""
    ys, xs = np.nonzero(mask)
    px = [c.pixel() for c in clicks if c.positive]
    if px:
        xs = np.concatenate([xs, [p[0] for p in px]])
        ys = np.concatenate([ys, [p[1] for p in px]])
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes, ends exclusive."""
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def interior_point(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the object pixel farthest from the object boundary (the NoC protocol's first click)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("interior_point: the mask is empty")
    dt = _padded_distance(mask)
    y, x = np.unravel_index(int(np.argmax(dt)), dt.shape)
    return int(x), int(y)


def next_click(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None,
               clicked: Iterable[Click] = ()) -> Click | None:
    """The oracle's next click: the error pixel farthest from the error region's boundary.

    Positive when it lies in the false negatives (object, not predicted), negative in the false
    positives. Void pixels (`ignore`) and already clicked pixels are never chosen. Ties go to the
    first pixel in raster order. None when there is no error left to click.
    """
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    valid = np.ones_like(gt) if ignore is None else ~np.asarray(ignore, dtype=bool)
    fn = gt & ~pred & valid
    fp = pred & ~gt & valid
    fn_dt = _padded_distance(fn)
    fp_dt = _padded_distance(fp)
    h, w = gt.shape
    for c in clicked:
        x, y = c.pixel()
        if 0 <= x < w and 0 <= y < h:
            fn_dt[y, x] = 0.0
            fp_dt[y, x] = 0.0
    fn_max, fp_max = float(fn_dt.max(initial=0.0)), float(fp_dt.max(initial=0.0))
    if max(fn_max, fp_max) <= 0.0:
        return None
    positive = fn_max > fp_max
    dt = fn_dt if positive else fp_dt
    y, x = np.unravel_index(int(np.argmax(dt)), dt.shape)
    return Click(x=float(x), y=float(y), positive=bool(positive))


def error_region_fixed(before: np.ndarray, after: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None,
                       click: Click) -> tuple[int, float]:
    """(area, fraction) of the error region a corrective `click` was placed in — the 8-connected part of
    `before`'s errors (void left out) holding the click — and the fraction of it that `after` has right.
    (0, nan) when the click is on no error. A click honoured by a disc around it while its region stays wrong
    (the user's intent missed) shows as a big area with a small fraction."""
    gt = np.asarray(gt, dtype=bool)
    err = np.asarray(before, dtype=bool) != gt
    if ignore is not None:
        err &= ~np.asarray(ignore, dtype=bool)
    x, y = click.pixel()
    if not (0 <= y < err.shape[0] and 0 <= x < err.shape[1]) or not err[y, x]:
        return 0, float("nan")
    _, labels = cv2.connectedComponents(err.astype(np.uint8), connectivity=8)
    region = labels == labels[y, x]
    area = int(np.count_nonzero(region))
    return area, float(np.count_nonzero(region & (np.asarray(after, dtype=bool) == gt))) / area
