"""How well an ideal logit map at the network's output stride could fit the objects a NoC run measured.

For each object of `ifcn noc`'s per_object.csv: the zoomed-in crop zoom-in would settle on (`models.zoom.ZoomIn`'s
defaults: the object's box grown by `expansion`, at least `min_crop` px, enlarged to `target`), the ground truth
area-averaged to the output grid of an FCN-Ns on that crop, upsampled bilinear and cut at 0.5, against the ground
truth (128 ignored). Prints the mean of that IoU for N = 8, 4, 2, by object size, and over the objects the run
failed at 90 %.

    python training/recipes/stride_bound.py MASKS_DIR runs/eval/<tag>/<source>/per_object.csv [MASKS_DIR CSV ...]
"""
from __future__ import annotations

import csv
import sys

import cv2
import numpy as np

from models.metrics import iou, object_box
from models.zoom import ZoomIn

STRIDES = (8, 4, 2)
SMALL = 6000  # px: the failures' sizes (MODEL_CARD, "Zoom-in on by default")


def bound(gt: np.ndarray, stride: int, z: ZoomIn = ZoomIn()) -> float:
    """IoU of the ground truth seen through an ideal stride-`stride` map of its zoomed crop."""
    obj = gt == 255
    x0, y0, x1, y1 = object_box(obj)
    side = max(z.min_crop, (x1 - x0) * z.expansion, (y1 - y0) * z.expansion)
    cell = stride / max(1.0, z.target / side)  # photo px per output cell
    h, w = gt.shape
    low = cv2.resize(obj.astype(np.float32), (max(1, round(w / cell)), max(1, round(h / cell))),
                     interpolation=cv2.INTER_AREA)
    seen = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    return iou(seen, obj, ignore=gt == 128)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or len(argv) % 2:
        sys.exit(__doc__)
    rows: dict[str, list[tuple[float, ...]]] = {}
    for masks, table in zip(argv[::2], argv[1::2]):
        for r in csv.DictReader(open(table)):
            gt = cv2.imread(f"{masks}/{r['image']}_{r['object']}.png", cv2.IMREAD_GRAYSCALE)
            if gt is None or not (gt == 255).any():
                continue
            group = "small" if int(r["area"]) < SMALL else "large"
            rows.setdefault(group, []).append((*(bound(gt, s) for s in STRIDES), float(r["failed@90"] == "1")))
    print("objects | " + " | ".join(f"ideal stride {s}" for s in STRIDES) + " | failed@90 | the failed: "
          + " | ".join(f"stride {s}" for s in STRIDES))
    for group, v in sorted(rows.items()):
        a = np.array(v)
        failed = a[a[:, -1] == 1]
        tail = " | ".join(f"{x:.3f}" for x in failed[:, :-1].mean(0)) if len(failed) else "-"
        print(f"{group} ({len(a)}) | " + " | ".join(f"{x:.3f}" for x in a[:, :-1].mean(0))
              + f" | {len(failed)} | {tail}")


if __name__ == "__main__":
    main(sys.argv[1:])
