"""Simulated clicks for training (Xu et al. 2016, §3.2; parameters of Intseg's genIntSegPairs.m).

A training pair is one positive click set plus one negative click set drawn by one of three strategies:

1. random background pixels in a band of width ``band`` around the object;
2. clicks inside the *other* objects of the image (up to ``n_neg2_per_object`` each);
3. greedy farthest-point sampling on the band (first point random, each next one farthest from those chosen).

Clicks are (N, 2) int arrays of (x, y) = (column, row). Void pixels (VOC's 255 band) are never clicked.
Sequential picks with a minimum spacing work on the array of candidate coordinates, each pick being one
vectorised update, so no per-pixel Python loop is ever run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

STRATEGIES = (1, 2, 3)


@dataclass(frozen=True)
class SamplingConfig:
    """Click-simulation parameters; defaults are the reference's (genIntSegPairs.m)."""

    n_pos: int = 5               # positive clicks per pair: a random count in 1..n_pos
    n_neg1: int = 10             # strategy 1: a random count in 1..n_neg1
    n_neg2_per_object: int = 5   # strategy 2: a random count in 1..n per other object
    n_neg3: int = 10             # strategy 3: this many farthest-point clicks (fewer if the band is small)
    d_margin: int = 5            # minimum distance of a click from the object boundary (pixels)
    d_step: int = 10             # minimum distance between two clicks of the same set (pixels)
    band: int = 40               # width of the background band around the object (pixels)
    min_area: int = 400          # objects with fewer pixels are dropped from training
    strategy2_fallback: bool = True  # strategy 2 on an image with no other object uses strategy 1

    def __post_init__(self) -> None:
        for name in ("n_pos", "n_neg1", "n_neg2_per_object", "n_neg3", "band"):
            if getattr(self, name) < 1:
                raise ValueError(f"SamplingConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("d_margin", "d_step", "min_area"):
            if getattr(self, name) < 0:
                raise ValueError(f"SamplingConfig.{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        """Plain dict of the parameters (stored alongside generated pairs)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _empty() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.int32)


def _inside_distance(mask: np.ndarray) -> np.ndarray:
    """Distance (px) of each mask pixel to the nearest pixel outside it; 0 outside."""
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _coords(mask: np.ndarray) -> np.ndarray:
    """(N, 2) int32 (x, y) of the True pixels of a mask."""
    ys, xs = np.nonzero(mask)
    return np.stack([xs, ys], axis=1).astype(np.int32)


def pick_spaced(candidates_xy: np.ndarray, count: int, d_step: float,
                rng: np.random.Generator, tries: int = 16) -> np.ndarray:
    """Pick up to `count` random candidates, each at least `d_step` from the ones picked before.

    Each pick is uniform over the candidates still allowed: a few rejection draws against the points
    chosen so far, and when those fail one vectorised filter of the whole candidate array.
    """
    cand = np.asarray(candidates_xy, dtype=np.int32).reshape(-1, 2)
    step2 = float(d_step) ** 2
    chosen = np.zeros((count, 2), dtype=np.float32)
    n = 0
    filtered = False
    while n < count and len(cand):
        if filtered or n == 0:
            p = cand[rng.integers(len(cand))]
        else:
            draws = cand[rng.integers(len(cand), size=tries)].astype(np.float32)
            d2 = ((draws[:, None, :] - chosen[None, :n, :]) ** 2).sum(axis=2).min(axis=1)
            ok = np.flatnonzero(d2 >= step2)
            if len(ok):
                p = draws[ok[0]].astype(np.int32)
            else:  # the allowed region is small: filter the candidates once and draw from what is left
                d = cand[:, None, :].astype(np.float32) - chosen[None, :n, :]
                cand = cand[((d ** 2).sum(axis=2) >= step2).all(axis=1)]
                filtered = True
                continue
        chosen[n] = p
        n += 1
        if filtered:
            dx = cand[:, 0].astype(np.float32) - p[0]
            dy = cand[:, 1].astype(np.float32) - p[1]
            cand = cand[dx * dx + dy * dy >= step2]
    return chosen[:n].astype(np.int32)


def farthest_points(candidates_xy: np.ndarray, count: int, rng: np.random.Generator,
                    min_distance: float = 0.0) -> np.ndarray:
    """Greedy farthest-point sampling: first point random, each next one farthest from those chosen.

    Stops early when the farthest remaining candidate is closer than `min_distance` (or is a chosen one).
    """
    cand = np.asarray(candidates_xy, dtype=np.int32).reshape(-1, 2)
    if len(cand) == 0 or count < 1:
        return _empty()
    xs = cand[:, 0].astype(np.float32)
    ys = cand[:, 1].astype(np.float32)
    idx = [int(rng.integers(len(cand)))]
    best = (xs - xs[idx[0]]) ** 2 + (ys - ys[idx[0]]) ** 2
    floor2 = max(float(min_distance) ** 2, 1e-6)
    while len(idx) < count:
        j = int(np.argmax(best))
        if best[j] < floor2:
            break
        idx.append(j)
        np.minimum(best, (xs - xs[j]) ** 2 + (ys - ys[j]) ** 2, out=best)
    return cand[idx].astype(np.int32)


def _as_labels(other_objects: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Integer label map of the other objects (0 = none); a bool mask is split into components."""
    if other_objects is None:
        return np.zeros(shape, dtype=np.int32)
    arr = np.asarray(other_objects)
    if arr.shape != shape:
        raise ValueError(f"other_objects has shape {arr.shape}, expected {shape}")
    if arr.dtype == bool:
        _, labels = cv2.connectedComponents(arr.astype(np.uint8), connectivity=8)
        return labels.astype(np.int32)
    return arr.astype(np.int32)


def _bbox(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """Bounding box of a mask grown by `pad` pixels (clipped to the image), None if the mask is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (slice(max(0, rows[0] - pad), min(h, rows[-1] + pad + 1)),
            slice(max(0, cols[0] - pad), min(w, cols[-1] + pad + 1)))


def interior_candidates(mask: np.ndarray, void: np.ndarray, margin: float) -> np.ndarray:
    """(N, 2) (x, y) of the non-void mask pixels at least `margin` from the mask's boundary."""
    box = _bbox(mask, 1)
    if box is None:
        return _empty()
    m = mask[box]
    inner = m & ~void[box] & (_inside_distance(m) >= margin)
    return _coords(inner) + np.array([box[1].start, box[0].start], np.int32)


def other_object_candidates(labels: np.ndarray, void: np.ndarray, margin: float) -> dict[int, np.ndarray]:
    """Strategy-2 candidates of every labelled object (interior with margin, else all its non-void pixels)."""
    out = {}
    for lab in np.unique(labels):
        if lab == 0:
            continue
        m = labels == lab
        cand = interior_candidates(m, void, margin)
        if len(cand) == 0:
            cand = _coords(m & ~void)
        if len(cand):
            out[int(lab)] = cand
    return out


class ObjectSampler:
    """Candidate pixels of one object, computed once, from which many click pairs are drawn.

    `other_candidates` (strategy-2 candidates per other object, see `other_object_candidates`) may be
    given precomputed instead of `other_objects`, which saves work when sampling every object of an image.
    """

    def __init__(self, object_mask: np.ndarray, other_objects: np.ndarray | None = None,
                 void_mask: np.ndarray | None = None, cfg: SamplingConfig | None = None,
                 other_candidates: list[np.ndarray] | None = None) -> None:
        self.cfg = cfg or SamplingConfig()
        c = self.cfg
        obj = np.asarray(object_mask).astype(bool)
        if obj.ndim != 2:
            raise ValueError(f"object_mask must be 2-D, got shape {obj.shape}")
        shape = obj.shape
        void = np.zeros(shape, bool) if void_mask is None else np.asarray(void_mask).astype(bool)
        if void.shape != shape:
            raise ValueError(f"void_mask has shape {void.shape}, expected {shape}")
        self.shape = shape
        self.area = int(obj.sum())

        # Positive: inside the object, at least d_margin from its boundary.
        self.pos_candidates = interior_candidates(obj, void, c.d_margin)

        # Band: outside the object, within `band` of it, at least d_margin away. Only the object's
        # bounding box grown by the band can hold such pixels, so the distance transform runs there.
        box = _bbox(obj, c.band + 1)
        if box is None:
            self.band_candidates = _empty()
        else:
            o = obj[box]
            outside = cv2.distanceTransform((~o).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            band = ~o & ~void[box] & (outside >= max(c.d_margin, 1)) & (outside <= c.band)
            self.band_candidates = _coords(band) + np.array([box[1].start, box[0].start], np.int32)

        # Strategy 2: each other object's own interior.
        if other_candidates is not None:
            self.other_candidates = [np.asarray(a, np.int32).reshape(-1, 2) for a in other_candidates
                                     if len(a)]
        else:
            labels = _as_labels(other_objects, shape)
            labels[obj] = 0
            self.other_candidates = list(other_object_candidates(labels, void, c.d_margin).values())

    @property
    def can_sample(self) -> bool:
        """True when at least one positive click fits inside the object."""
        return len(self.pos_candidates) > 0

    def positives(self, rng: np.random.Generator) -> np.ndarray:
        """A positive click set: a random count in 1..n_pos, spaced by d_step."""
        if not self.can_sample:
            return _empty()
        k = int(rng.integers(1, self.cfg.n_pos + 1))
        return pick_spaced(self.pos_candidates, k, self.cfg.d_step, rng)

    def negatives(self, strategy: int, rng: np.random.Generator) -> np.ndarray:
        """A negative click set drawn with strategy 1, 2 or 3."""
        c = self.cfg
        if strategy == 2 and not self.other_candidates and c.strategy2_fallback:
            strategy = 1
        if strategy == 1:
            k = int(rng.integers(1, c.n_neg1 + 1))
            return pick_spaced(self.band_candidates, k, c.d_step, rng)
        if strategy == 2:
            sets = [pick_spaced(cand, int(rng.integers(1, c.n_neg2_per_object + 1)), c.d_step, rng)
                    for cand in self.other_candidates]
            return np.concatenate(sets, axis=0) if sets else _empty()
        if strategy == 3:
            return farthest_points(self.band_candidates, c.n_neg3, rng, min_distance=c.d_step)
        raise ValueError(f"unknown negative strategy {strategy!r}: use 1, 2 or 3")

    def pair(self, strategy: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One (pos_xy, neg_xy) training pair."""
        return self.positives(rng), self.negatives(strategy, rng)


def sample_pair(object_mask: np.ndarray, other_objects_mask: np.ndarray | None,
                void_mask: np.ndarray | None, strategy: int, rng: np.random.Generator,
                cfg: SamplingConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One simulated (pos_xy, neg_xy) pair for an object; empty positives if none fits.

    `other_objects_mask` is a label map of the image's other objects (0 = none) or a bool mask
    (split into connected components).
    """
    return ObjectSampler(object_mask, other_objects_mask, void_mask, cfg).pair(strategy, rng)


def sample_pairs(object_mask: np.ndarray, other_objects_mask: np.ndarray | None,
                 void_mask: np.ndarray | None, n: int, rng: np.random.Generator,
                 cfg: SamplingConfig | None = None,
                 strategies: Sequence[int] = STRATEGIES) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """`n` pairs (pos_xy, neg_xy, strategy) cycling through `strategies`; [] if no positive fits."""
    sampler = ObjectSampler(object_mask, other_objects_mask, void_mask, cfg)
    if not sampler.can_sample:
        return []
    out = []
    for i in range(n):
        s = int(strategies[i % len(strategies)])
        pos, neg = sampler.pair(s, rng)
        out.append((pos, neg, s))
    return out
