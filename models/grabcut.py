"""GrabCut (OpenCV): refinement of a network prediction (reference §5) and the classical baseline."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from models.clicks import Click, distance_map, paint_discs
from models.regions import clicked_parts, crop_box, crop_clicks, honour_clicks, touches_cut_edge

RADIUS = 5
#: GrabCut iterations of the classical from-clicks baseline.
ITERATIONS = 5
#: GrabCut iterations of the refinement of an edge-snapped network prediction (`models.edge_snap`, the default):
#: 2 measured as good as 5 (held-out training photos NoC@90 clothing / coco 12.04 / 14.46 vs 12.22 / 14.52; GrabCut
#: 3.98 vs 4.12, Berkeley 9.11 vs 9.22) at ~0.6x the time: GrabCut starts from a boundary already on the edges.
REFINE_ITERATIONS = 2
#: GrabCut iterations when the prediction is not edge-snapped (Snap to Edges off): 3 cost ~0.7x of 5
#: (benchmarks/bench_refine_cost.py) but measured GrabCut NoC@90 4.40 / 2 failed vs 4.36 / 1 with 5: 5 kept.
UNSNAPPED_ITERATIONS = 5
#: Crop margins (fraction of the object's box) tried in turn by `refine`.
CROP_MARGINS = (0.25, 1.0)
#: `refine` keeps GrabCut's object only when it keeps at least this fraction of the network's foreground in the
#: crop: below it GrabCut has collapsed towards the click discs (a fur or foliage colour model that cannot tell the
#: object from its background; one click then selected nothing), and the network's mask is the better one. Growth
#: is not limited (GrabCut finding the rest of an object the network missed is what it is for). Chosen on held-out
#: training photos (resources/weights/MODEL_CARD.md), not on the benchmarks.
MIN_KEPT = 0.5
#: `refine` marks pixels where the network's probability is within this of 0 or 1 as definite for GrabCut (0: none).
#: 0.05 halved GrabCut's time and helped on held-out training photos (NoC@85 coco / clothing 11.82 / 6.98 vs
#: 12.58 / 7.24) but lost on the GrabCut benchmark (NoC@90 5.84, 4 failures, vs 4.38, 1): the network is often
#: sure and wrong there, and GrabCut's growth past it is what refinement is for. Off.
DEFINITE = 0.0
#: `refine` runs GrabCut on at most this many pixels: a bigger crop is downscaled for it (GrabCut's time grows
#: faster than the area: ~2 s for a 341 x 512 crop, ~0.2 s at this size) and the mask scaled back up.
MAX_PIXELS = 40_000


def _seed_disks(gc: np.ndarray, clicks: Sequence[Click], radius: int) -> None:
    """Mark definite foreground/background disks of `radius` around the clicks (in place)."""
    paint_discs(gc, clicks, radius, int(cv2.GC_FGD), int(cv2.GC_BGD))  # each pixel on its nearest click's side


def _run(rgb: np.ndarray, gc: np.ndarray, iterations: int) -> np.ndarray | None:
    """Run cv2.grabCut on a seeded mask; None when GrabCut cannot (no fg or no bg samples)."""
    has_fg = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).any()
    has_bg = np.isin(gc, (cv2.GC_BGD, cv2.GC_PR_BGD)).any()
    if not (has_fg and has_bg):
        return None
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    # GrabCut's colour models start from k-means on OpenCV's global random generator: seeded per call, the same
    # clicks give the same mask whatever ran before (undo/redo, a benchmark's earlier objects)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(bgr, gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None
    return np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD))


def _seeds(prob: np.ndarray, threshold: float, definite: float) -> np.ndarray:
    """GrabCut's initial labels from a probability: probable foreground / background by `threshold`; definite
    where the network is sure (`prob` within `definite` of 0 or 1; 0 = nowhere)."""
    gc = np.where(prob >= threshold, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if definite > 0:
        gc[prob >= 1.0 - definite] = cv2.GC_FGD
        gc[prob <= definite] = cv2.GC_BGD
    return gc


def _segment_crop(rgb: np.ndarray, seeds: np.ndarray, clicks: Sequence[Click], radius: int, iterations: int,
                  max_pixels: int) -> np.ndarray | None:
    """GrabCut of one crop from its initial labels `seeds` (`_seeds`) and the click disks (definite); the
    crop is downscaled to at most `max_pixels` for it (disks scaled too, at least 2 px), the mask scaled back."""
    h, w = seeds.shape
    s = min(1.0, (max_pixels / float(h * w)) ** 0.5)
    if s < 1.0:
        size = (max(1, int(w * s)), max(1, int(h * s)))
        sx, sy = size[0] / w, size[1] / h
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        seeds = cv2.resize(seeds, size, interpolation=cv2.INTER_NEAREST)
        clicks = [c.mapped(sx, sy) for c in clicks]
        radius = max(2, round(radius * s))
    gc = seeds.copy()
    _seed_disks(gc, clicks, radius)
    seg = _run(rgb, gc, iterations)
    if seg is None or s == 1.0:
        return seg
    return cv2.resize(seg.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5


def refine_iterations(snapped: bool) -> int:
    """GrabCut iterations `refine` should run on a prediction that is (or is not) edge-snapped (read at the call,
    so `benchmarks.noc_variant --set` changes them)."""
    return REFINE_ITERATIONS if snapped else UNSNAPPED_ITERATIONS


def refine(rgb: np.ndarray, prob: np.ndarray, clicks: Sequence[Click], radius: int = RADIUS,
           iterations: int | None = None, threshold: float = 0.5, max_pixels: int | None = None,
           min_kept: float | None = None, definite: float | None = None) -> np.ndarray:
    """Reference GrabCut refinement on a crop around the predicted object; float32 HxW.

    Disks of `radius` around positive / negative clicks are definite foreground / background (also
    outside the crop), the rest probable foreground or background by `prob >= threshold`. Inside the crop
    the result is GrabCut's foreground parts that hold a positive click (never a region the user did not
    click); outside the crop `prob` is kept (the crop holds all of the network's foreground). When GrabCut
    grows the object up to (within 2 px of; more for a downscaled crop) a cut edge of the crop, the crop is
    widened once (a margin of the size of what GrabCut found) so the mask does not end in a straight line;
    when it still does, GrabCut is leaking into the background and `prob` is returned unrefined (with the
    click disks). So is it when GrabCut's object keeps less than `min_kept` (default `MIN_KEPT`) of the
    network's foreground: GrabCut collapsed towards the clicks. GrabCut sees crops of at most `max_pixels`
    (bigger ones downscaled). `iterations` and `max_pixels` default to the module's `REFINE_ITERATIONS` and
    `MAX_PIXELS` as they are at the call (so `benchmarks.noc_variant --set` changes them).
    """
    iterations = REFINE_ITERATIONS if iterations is None else int(iterations)
    max_pixels = MAX_PIXELS if max_pixels is None else int(max_pixels)
    fg = prob >= threshold
    seeds = _seeds(np.asarray(prob), threshold, DEFINITE if definite is None else definite)
    h, w = fg.shape
    out = np.asarray(prob, dtype=np.float32).copy()
    grown = fg
    for margin in CROP_MARGINS:
        y0, y1, x0, x1 = crop_box(grown, clicks, margin_frac=margin)
        cc = crop_clicks(clicks, (y0, y1, x0, x1))
        seg = _segment_crop(rgb[y0:y1, x0:x1], seeds[y0:y1, x0:x1], cc, radius, iterations, max_pixels)
        if seg is None:
            break
        # did GrabCut grow the object up to a cut edge of the crop? Then the mask would end in a straight
        # line there: retry on a crop widened around what it grew. If even that one is cut, GrabCut is
        # leaking into a background of similar colours and the network's prediction stays.
        obj = clicked_parts(seg, cc)
        if not obj.any():  # no positive click inside GrabCut's foreground: nothing it found is the object
            break
        # within 2 px of a cut edge counts as reaching it, more for a downscaled crop: its mask is scaled back
        # up, and a cut at GrabCut's edge can land a few px inside the crop's (the measured code: keep it so)
        band = 1 + int(np.ceil(np.sqrt((y1 - y0) * (x1 - x0) / float(max_pixels))))
        if not touches_cut_edge(obj, (y0, y1, x0, x1), (h, w), band):
            net = fg[y0:y1, x0:x1]
            if np.count_nonzero(obj & net) < (MIN_KEPT if min_kept is None else min_kept) * np.count_nonzero(net):
                break  # GrabCut collapsed towards the clicks: the network's mask stays
            # only what holds a positive click: a look-alike neighbour GrabCut picked up inside the crop
            # (often cut by the crop's edge) is not the object the user clicked
            out[y0:y1, x0:x1] = obj.astype(np.float32)
            break
        grown = fg.copy()
        grown[y0:y1, x0:x1] |= obj
    return honour_clicks(out, clicks, radius)  # definite pixels stay definite, also outside the crop


def refine_full(rgb: np.ndarray, prob: np.ndarray, clicks: Sequence[Click], radius: int = RADIUS,
                iterations: int = REFINE_ITERATIONS, threshold: float = 0.5) -> np.ndarray:
    """The same refinement on the whole image (the benchmark's baseline for the crop version)."""
    gc = np.where(prob >= threshold, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    _seed_disks(gc, clicks, radius)
    seg = _run(rgb, gc, iterations)
    return np.asarray(prob, np.float32).copy() if seg is None else seg.astype(np.float32)


def grabcut_from_clicks(rgb: np.ndarray, clicks: Sequence[Click], radius: int = RADIUS,
                        iterations: int = ITERATIONS) -> np.ndarray:
    """Classical baseline: GrabCut seeded from clicks alone; float32 HxW of 0/1.

    Probable foreground: pixels nearer a positive than any negative click, within a quarter of the
    image's shorter side of a positive click; definite disks at the clicks; the rest probable background.
    """
    h, w = rgb.shape[:2]
    pos = [(c.x, c.y) for c in clicks if c.positive]
    if not pos:
        return np.zeros((h, w), np.float32)
    neg = [(c.x, c.y) for c in clicks if not c.positive]
    reach = max(8.0, 0.25 * min(h, w))
    d_pos = distance_map(pos, h, w, clamp=float(max(h, w) * 2))
    d_neg = distance_map(neg, h, w, clamp=float(max(h, w) * 2))
    fg = (d_pos <= reach) & (d_pos < d_neg)
    gc = np.where(fg, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    _seed_disks(gc, clicks, radius)
    seg = _run(rgb, gc, iterations)
    return (fg if seg is None else seg).astype(np.float32)
