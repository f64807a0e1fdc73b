"""Pair generation (`training.pairs.generate_pairs`) on a VOC-train-sized synthetic devkit (≈ 3,500 objects on
500×375 images, 15 pairs per object), against a naive per-pixel Python sampler written here as the baseline.

The naive sampler is far too slow for the whole devkit, so it runs on the first few images only; the library
runs on the same images in the same process for a like-for-like ratio, and the full-devkit time of the naive
sampler is extrapolated from its time per object (said so in the results).

    python -m benchmarks.bench_pairs
"""
from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmarks.common import Section, Target, cache_dir, reps
from models.fileio import atomic_write_text
from training.pairs import generate_pairs, image_seed, pairs_for_objects
from training.sampling import SamplingConfig
from training.synthetic import write_synthetic_devkit
from training.voc import VOID, VOCDevkit

IMAGES = 1100  # the synthetic generator averages ~3.2 objects per image: ~3,500 objects like VOC train
SIZE = (375, 500)
PAIRS = 15


def voc_train_sized_devkit(n_images: int = IMAGES) -> Path:
    """The benchmark devkit (cached between runs): every image in the train split."""
    out = cache_dir() / f"voc-train-sized-{n_images}-{SIZE[0]}x{SIZE[1]}"
    devkit = out / "VOCdevkit"
    base = devkit / "VOC2012"
    done = out / "complete"
    if not done.is_file():
        write_synthetic_devkit(out, n_images=n_images, seed=123, size=SIZE)
        ids = sorted(p.stem for p in (base / "JPEGImages").glob("*.jpg"))
        atomic_write_text(base / "ImageSets" / "Segmentation" / "train.txt", "".join(f"{i}\n" for i in ids))
        done.write_text("ok\n")
    return devkit


# ---------------------------------------------------------------------------------------- naive baseline

def _spaced_naive(cands: list[tuple[int, int]], count: int, step: float, rnd: random.Random) -> list:
    """Random picks, each checked against every earlier pick in a Python loop (rejection, 100 tries)."""
    chosen: list[tuple[int, int]] = []
    for _ in range(count):
        for _try in range(100):
            x, y = cands[rnd.randrange(len(cands))]
            if all(math.hypot(x - cx, y - cy) >= step for cx, cy in chosen):
                chosen.append((x, y))
                break
    return chosen


def _farthest_naive(cands: list[tuple[int, int]], count: int, step: float, rnd: random.Random) -> list:
    """Greedy farthest-point sampling with a Python loop over every candidate per pick."""
    chosen = [cands[rnd.randrange(len(cands))]]
    while len(chosen) < count:
        best, best_d = None, -1.0
        for x, y in cands:
            d = min(math.hypot(x - cx, y - cy) for cx, cy in chosen)
            if d > best_d:
                best, best_d = (x, y), d
        if best_d < step:
            break
        chosen.append(best)
    return chosen


def naive_pairs_for_image(objects: np.ndarray, n_pairs: int, rnd: random.Random,
                          cfg: SamplingConfig = SamplingConfig()) -> tuple[int, int]:
    """Per-pixel Python loops over the whole image for every object (like a direct port of the MATLAB
    reference); distance transforms by scipy. Returns (objects kept, pairs)."""
    h, w = objects.shape
    void = objects == VOID
    labels = [int(v) for v in np.unique(objects) if v not in (0, VOID)]
    inside = {lab: ndimage.distance_transform_edt(objects == lab) for lab in labels}
    kept = pairs = 0
    for lab in labels:
        mask = objects == lab
        if mask.sum() < cfg.min_area:
            continue
        outside = ndimage.distance_transform_edt(~mask)
        pos, band, others = [], [], {}
        for y in range(h):
            for x in range(w):
                if void[y, x]:
                    continue
                if mask[y, x]:
                    if inside[lab][y, x] >= cfg.d_margin:
                        pos.append((x, y))
                else:
                    if cfg.d_margin <= outside[y, x] <= cfg.band:
                        band.append((x, y))
                    o = int(objects[y, x])
                    if o != 0 and inside[o][y, x] >= cfg.d_margin:
                        others.setdefault(o, []).append((x, y))
        if not pos:
            continue
        kept += 1
        for k in range(n_pairs):
            _spaced_naive(pos, rnd.randint(1, cfg.n_pos), cfg.d_step, rnd)
            s = (1, 2, 3)[k % 3]
            if s == 2 and not others:
                s = 1
            if s == 1 and band:
                _spaced_naive(band, rnd.randint(1, cfg.n_neg1), cfg.d_step, rnd)
            elif s == 2:
                for c in others.values():
                    _spaced_naive(c, rnd.randint(1, cfg.n_neg2_per_object), cfg.d_step, rnd)
            elif s == 3 and band:
                _farthest_naive(band, cfg.n_neg3, cfg.d_step, rnd)
            pairs += 1
    return kept, pairs


def run() -> Section:
    """Full-devkit pair generation with 2 workers, and the like-for-like ratio to the naive sampler."""
    t0 = time.perf_counter()
    sec = Section("Pair generation (VOC-train-sized synthetic devkit, 15 pairs per object)")
    t_dev = time.perf_counter()
    devkit = voc_train_sized_devkit()
    t_dev = time.perf_counter() - t_dev
    workers = min(2, os.cpu_count() or 1)
    t_full = time.perf_counter()
    ps = generate_pairs(devkit, "train", pairs_per_object=PAIRS, workers=workers, progress=False)
    t_full = time.perf_counter() - t_full
    s = ps.summary

    voc = VOCDevkit(devkit)
    subset = voc.image_ids("train")[: reps(6, 2)]
    masks = [voc.load_objects(i) for i in subset]
    cfg = SamplingConfig()
    t_lib = time.perf_counter()
    lib_kept = 0
    for image_id, objects in zip(subset, masks):
        _, counts = pairs_for_objects(objects, image_id, PAIRS, np.random.default_rng(image_seed(0, image_id)), cfg)
        lib_kept += counts["kept"]
    t_lib = time.perf_counter() - t_lib
    t_naive = time.perf_counter()
    rnd = random.Random(0)
    naive_kept = 0
    for objects in masks:
        naive_kept += naive_pairs_for_image(objects, PAIRS, rnd, cfg)[0]
    t_naive = time.perf_counter() - t_naive
    per_obj_naive = t_naive / max(1, naive_kept)
    per_obj_lib = t_lib / max(1, lib_kept)
    naive_full = per_obj_naive * s["objects_kept"]

    sec.table(["pair generation", "objects (kept)", "pairs", "wall time", "per object"], [
        [f"`generate_pairs`, whole devkit ({s['images']} images 500×375), {workers} workers",
         f"{s['objects']} ({s['objects_kept']})", s["pairs"], f"{t_full:.1f} s",
         f"{t_full / max(1, s['objects_kept']) * 1000:.1f} ms"],
        [f"`pairs_for_objects`, first {len(subset)} images, 1 process", lib_kept, lib_kept * PAIRS,
         f"{t_lib:.2f} s", f"{per_obj_lib * 1000:.1f} ms"],
        [f"naive per-pixel Python sampler, same {len(subset)} images, 1 process", naive_kept,
         naive_kept * PAIRS, f"{t_naive:.1f} s", f"{per_obj_naive * 1000:.0f} ms"],
        ["naive sampler extrapolated to the whole devkit, 1 process", s["objects_kept"], "",
         f"≈ {naive_full / 60:.0f} min", ""],
    ])
    sec.notes.append(f"Like-for-like (same images, one process): the library is {per_obj_naive / per_obj_lib:.0f}× "
                     "faster per object than the naive sampler. The naive time for the whole devkit is "
                     "extrapolated from its time per object on the subset, not measured.")
    voc_objects = 3507
    sec.notes.append(f"VOC 2012 train has {voc_objects:,} objects; scaled linearly from this devkit's "
                     f"{s['objects']:,}, the library would take ≈ {t_full * voc_objects / max(1, s['objects']):.0f} s.")
    sec.notes.append(f"Devkit: `training.synthetic.write_synthetic_devkit` ({IMAGES} images, seed 123, every image "
                     f"in train), cached under {devkit.parent}; "
                     f"{'built in ' + format(t_dev, '.0f') + ' s this run' if t_dev > 1 else 'reused from cache'}.")
    sec.targets.append(Target(f"pair generation, VOC-train-sized devkit ({s['objects']} objects × {PAIRS} pairs)",
                              "≤ 5 min on 2 cores; ratio to a naive sampler",
                              f"{t_full:.1f} s; {per_obj_naive / per_obj_lib:.0f}× faster than the naive "
                              "per-pixel sampler (same objects)", t_full <= 300))
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    print(run().markdown())
