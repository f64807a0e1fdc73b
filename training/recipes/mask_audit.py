"""An audit of the masks the annotator makes along the NoC oracle's clicks: what a user would call a defect, counted
per prediction (MODEL_CARD, "Click discs that overlap"). Not a NoC: every prediction of every object is checked for

  first_empty  the first click selects nothing (the mask is empty or the click's pixel is not in it)
  pos_out      a positive click's own pixel outside the mask
  neg_in       a negative click's own pixel inside the mask
  stray        a part of the mask (>= 64 px and >= 2 % of it) that holds no positive click and lies >= 80 % outside
               the object
  straight     an axis-aligned boundary run of >= 24 px that neither the object's boundary (within 1 px, half the run)
               nor a photo edge (a grey-level step of >= 12 across it, half the run) explains

    python training/recipes/mask_audit.py --data ../shared/data/train/coco_train2017 --split val --limit 120 \\
        --out runs/audit/coco.json [--checkpoint CKPT] [--no-refine | --refine-method grabcut]

The predictor is the annotator's (its default settings, `annotator.settings.default_settings`), the clicks are
the NoC oracle's (`training.noc.evaluate_object`: 20 at most, until 90 % IoU). Prints the count per check; --out
keeps every flagged prediction (image, object, click number, IoU, what was found) as JSON."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.clicks import Click  # noqa: E402
from models.regions import clicked_parts  # noqa: E402

CHECKS = ("first_empty", "pos_out", "neg_in", "stray", "straight")
RUN, EDGE = 24, 12


def wrong_side(mask: np.ndarray, clicks: Sequence[Click]) -> tuple[list[int], list[int]]:
    """Indices of the positive clicks whose pixel is outside `mask`, and of the negative ones inside it."""
    h, w = mask.shape
    on = [bool(mask[min(max(c.pixel()[1], 0), h - 1), min(max(c.pixel()[0], 0), w - 1)]) for c in clicks]
    return ([i for i, c in enumerate(clicks) if c.positive and not on[i]],
            [i for i, c in enumerate(clicks) if not c.positive and on[i]])


def stray_parts(mask: np.ndarray, gt: np.ndarray, clicks: Sequence[Click], min_px: int = 64, share: float = 0.02,
                outside: float = 0.8) -> list[int]:
    """Areas of the parts of `mask` that hold no positive click and lie mostly outside the object `gt`."""
    unclicked = mask & ~clicked_parts(mask, clicks)  # 8-connected parts, as below: whole parts drop out
    n, labels, stats, _ = cv2.connectedComponentsWithStats(unclicked.astype(np.uint8), connectivity=8)
    total = int(mask.sum())
    out = []
    for k in range(1, n):
        area = int(stats[k, cv2.CC_STAT_AREA])
        if area < max(min_px, share * total):
            continue
        if 1.0 - np.count_nonzero((labels == k) & gt) / area >= outside:
            out.append(area)
    return out


def straight_runs(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(axis, line, start, length) of the boundary runs of `mask` of at least RUN px: between rows line and line+1
    (axis 0, along x) or columns line and line+1 (axis 1, along y)."""
    out = []
    for axis, m in ((0, mask), (1, mask.T)):
        diff = (m[:-1] != m[1:]).astype(np.int8)
        for line in np.flatnonzero(diff.sum(1) >= RUN):
            d = np.diff(np.concatenate([[0], diff[line], [0]]))
            starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            out += [(axis, int(line), int(s), int(e - s)) for s, e in zip(starts, ends) if e - s >= RUN]
    return out


def unexplained_straight(mask: np.ndarray, gt: np.ndarray, rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The `straight_runs` of `mask` that neither the object's boundary nor a photo edge explains."""
    kernel = np.ones((3, 3), np.uint8)
    border = cv2.dilate(cv2.morphologyEx(gt.astype(np.uint8), cv2.MORPH_GRADIENT, kernel), kernel) > 0
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    steps = (np.abs(grey[1:] - grey[:-1]), np.abs(grey[:, 1:] - grey[:, :-1]).T)
    out = []
    for axis, line, s, n in straight_runs(mask):
        b = border if axis == 0 else border.T
        on_gt = b[line:line + 2, s:s + n].any(axis=0).mean()
        edge = (steps[axis][max(0, line - 1):line + 2, s:s + n].max(axis=0) >= EDGE).mean()
        if on_gt < 0.5 and edge < 0.5:
            out.append((axis, line, s, n))
    return out


def check(prob: np.ndarray, gt: np.ndarray, rgb: np.ndarray, clicks: Sequence[Click]) -> dict[str, Any]:
    """What one prediction (`prob` after `clicks`) shows of each check; empty when nothing."""
    mask = np.asarray(prob) >= 0.5
    found: dict[str, Any] = {}
    pos_out, neg_in = wrong_side(mask, clicks)
    if len(clicks) == 1 and (not mask.any() or pos_out):
        found["first_empty"] = int(mask.sum())
    for key, v in (("pos_out", pos_out), ("neg_in", neg_in), ("stray", stray_parts(mask, gt, clicks)),
                   ("straight", unexplained_straight(mask, gt, rgb))):
        if v:
            found[key] = v
    return found


class _Checked:
    """The predictor, with `check` run on each prediction it makes for `gt` on `rgb` (`training.noc`'s protocol
    drives it, so the clicks and the stop are the NoC's own)."""

    def __init__(self, predictor: Any, rgb: np.ndarray, gt: np.ndarray) -> None:
        self.predictor, self.rgb, self.gt = predictor, rgb, np.asarray(gt, dtype=bool)
        self.found: list[dict[str, Any]] = []

    def predict(self, clicks: Sequence[Click], refine: bool = False) -> np.ndarray:
        prob = self.predictor.predict(clicks, refine=refine)
        self.found.append(check(prob, self.gt, self.rgb, list(clicks)))
        return prob


def audit_object(predictor: Any, rgb: np.ndarray, gt: np.ndarray, void: np.ndarray | None,
                 refine: bool) -> list[dict[str, Any]]:
    """Every prediction of one object along the NoC oracle's clicks (`training.noc.evaluate_object`: 20 at most,
    until 90 %): click number, IoU and what `check` found."""
    from training.noc import evaluate_object

    checked = _Checked(predictor, rgb, gt)
    result = evaluate_object(checked, gt, void, refine=refine)
    return [{"k": k, "iou": round(v, 4), **found}
            for k, (v, found) in enumerate(zip(result.ious, checked.found), start=1)]


def main(argv: Sequence[str] | None = None) -> int:
    from annotator.settings import default_settings
    from models.predictor import ZoomIn
    from training.noc import _image_objects, load_predictor, open_dataset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="all")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--no-refine", dest="refine", action="store_false")
    ap.add_argument("--refine-method", choices=("colour", "grabcut"), default=None,
                    help="the refinement to audit (default: the annotator's, colour refinement)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    s = default_settings()
    predictor = load_predictor(args.checkpoint, max_size=s.max_size, zoom_target=ZoomIn().target if s.zoom_in else 0,
                               brs=s.brs, snap=s.snap, refine_method=args.refine_method or s.refine_method)
    dataset = open_dataset(argparse.Namespace(data=args.data, voc_root=None, images=None, masks=None))
    rows: list[dict[str, Any]] = []
    for image_id in dataset.image_ids(args.split):
        if len(rows) >= args.limit:
            break
        rgb, objs = _image_objects(dataset, image_id)
        predictor.set_image(rgb)
        for object_id, mask, void in objs[:args.limit - len(rows)]:
            steps = audit_object(predictor, rgb, mask, void, args.refine and s.refine)
            rows.append({"image": image_id, "object": int(object_id), "area": int(np.count_nonzero(mask)),
                         "steps": steps})
    predictions = sum(len(r["steps"]) for r in rows)
    print(f"{len(rows)} objects, {predictions} predictions ({args.data}, split {args.split})")
    for key in CHECKS:
        objs = sum(any(key in st for st in r["steps"]) for r in rows)
        preds = sum(sum(key in st for st in r["steps"]) for r in rows)
        print(f"  {key:12s} {preds:5d} predictions of {objs} objects")
    if args.out:
        flagged = [{**{k: r[k] for k in ("image", "object", "area")}, "steps": [st for st in r["steps"] if len(st) > 2]}
                   for r in rows]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps([r for r in flagged if r["steps"]], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
