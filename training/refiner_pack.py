"""Training states for the learned refiner: the predictor's own outputs along simulated correction sequences.

For each object of the training split, the NoC oracle (`models.metrics.next_click`) clicks on the errors of
the predictor as the annotator runs it before refinement (network + f-BRS, no snapping), and every state
(the probability after click k and the k clicks) is stored with the photo and its mask, at the working size.
The refiner (`models.refiner`) then learns to turn such a probability into the object's mask.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from models.clicks import Click
from models.errors import DatasetError, IFCNError
from models.metrics import interior_point, iou, next_click
from models.predictor import Predictor, fit_longest
from training.layouts import ObjectFolder, open_object_sources, usable

#: States per object: the oracle stops after this many clicks or at `STOP_IOU`.
MAX_CLICKS, STOP_IOU = 8, 0.96


def object_states(predictor: Predictor, gt: np.ndarray, ignore: np.ndarray, max_clicks: int = MAX_CLICKS
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (n, h, w) uint8, clicks (n, 3) x/y/positive) along the oracle's sequence on one object."""
    x, y = interior_point(gt)
    clicks = [Click(float(x), float(y), True)]
    probs: list[np.ndarray] = []
    while True:
        prob = predictor.predict(clicks)
        probs.append(np.round(np.clip(prob, 0, 1) * 255).astype(np.uint8))
        pred = prob >= 0.5
        if len(probs) >= max_clicks or iou(pred, gt, ignore) >= STOP_IOU:
            break
        nxt = next_click(pred, gt, ignore, clicked=clicks)
        if nxt is None:
            break
        clicks.append(nxt)
    arr = np.array([(c.x, c.y, float(c.positive)) for c in clicks[:len(probs)]], np.float32)
    return np.stack(probs), arr


def build(sources: list[tuple[ObjectFolder, float]], out: Path, shard: int = 0, shards: int = 1,
          max_size: int = 512, limit: int | None = None, checkpoint: str | None = None) -> int:
    """Write one .npz per training-split image of this shard into `out` (images already there are skipped, so
    a stopped run resumes); returns the objects written. `checkpoint`: the model whose outputs the refiner will
    refine (None: the shipped default)."""
    predictor = Predictor.load(checkpoint, engine="torch", snap=None)
    out.mkdir(parents=True, exist_ok=True)
    done, t0 = 0, time.time()
    queues = [[(folder, iid) for iid in folder.image_ids("train")] for folder, _ in sources]
    order = [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]  # sources interleaved
    for i, (folder, iid) in enumerate(order):
        if i % shards != shard:
            continue
        path = out / f"{folder.name}__{iid}.npz"
        if path.exists():
            continue
        try:
            full = folder.load_rgb(iid)
            masks = folder.load_masks(iid)
            wrong = [k for k, obj, _ in masks if obj.shape != full.shape[:2]]
            if wrong:
                raise DatasetError(f"mask {wrong[0]} does not have the photo's size")
        except Exception as e:  # noqa: BLE001 - a bad file in a big folder: skip it, say so
            print(f"skip {folder.name}/{iid}: {e}", flush=True)
            continue
        rgb = fit_longest(full, max_size)
        h, w = rgb.shape[:2]
        predictor.set_image(rgb)
        arrays: dict[str, np.ndarray] = {"rgb": rgb}
        unknown = np.zeros((h, w), bool)
        for k, obj, ign in masks:
            unknown |= cv2.resize(ign.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        for k, obj, ign in masks:
            gt = cv2.resize(obj.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
            ignore = unknown & ~gt
            if not usable(gt, ignore, 64, 3.0):
                continue
            probs, clicks = object_states(predictor, gt, ignore)
            arrays[f"gt_{k}"] = gt
            arrays[f"ignore_{k}"] = ignore
            arrays[f"probs_{k}"] = probs
            arrays[f"clicks_{k}"] = clicks
            done += 1
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
        print(f"{done} objects, {time.time() - t0:.0f} s: {path.name}", flush=True)
        if limit is not None and done >= limit:
            return done
    return done


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`ifcn refiner-pack --data DIR [--data DIR ...] --out DIR [--checkpoint FILE] [--shard I --shards N]`."""
    p.add_argument("--data", action="append", required=True,
                   help="object folder or collection (its train split is used; repeat for several)")
    p.add_argument("--out", required=True, help="folder for the .npz states (resumes: done images are skipped)")
    p.add_argument("--checkpoint", help="the model whose outputs are refined (default: the shipped model)")
    p.add_argument("--max-size", type=int, default=512, help="working size, as the annotator's (default 512)")
    p.add_argument("--shard", type=int, default=0, help="this process's share of the images (0..shards-1)")
    p.add_argument("--shards", type=int, default=1, help="how many processes share the images")
    p.add_argument("--limit", type=int, default=None, help="stop after this many objects")


def run(a: argparse.Namespace) -> int:
    """Entry point of `ifcn refiner-pack`."""
    import torch
    if not 0 <= a.shard < a.shards:
        raise IFCNError(f"--shard {a.shard}: must be in 0..{a.shards - 1}.")
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    n = build(open_object_sources(a.data), out, a.shard, a.shards, max_size=a.max_size, limit=a.limit,
              checkpoint=a.checkpoint)
    print(f"wrote {n} objects to {out}", flush=True)
    return 0


if __name__ == "__main__":
    _p = argparse.ArgumentParser(description=__doc__)
    add_arguments(_p)
    raise SystemExit(run(_p.parse_args()))
