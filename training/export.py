"""`ifcn export`: turn a training checkpoint into a shippable model file (fp16, no optimiser state).

Optionally folds NoC summaries (from `ifcn noc`) into the metadata, so the annotator's Model menu and
`ifcn info` can show them.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import CheckpointError, IFCNError
from models.fcn import IFCN
from models.refiner import ARCH as REFINER_ARCH, Refiner
from models.spec import check_extra


def read_refiner(path: Path) -> tuple[int, str, dict[str, torch.Tensor]]:
    """(width, input, state dict) of an `ifcn train-refiner` checkpoint (best.pt / last.pt), checked as a
    model's spec checks a carried refiner (`models.spec.check_extra`) and against the refiner's architecture;
    CheckpointError for anything else."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever the file is, the user gets one clear message
        raise CheckpointError(f"{path}: not a refiner checkpoint ({type(e).__name__}: {e}).") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("model"), dict):
        raise CheckpointError(f"{path}: not a refiner checkpoint (no 'model' weights).")
    width, kind, state = ck.get("width"), ck.get("input", "network"), ck["model"]
    try:
        check_extra({"refiner": {"arch": REFINER_ARCH, "width": width, "input": kind}})
    except ValueError as e:
        raise CheckpointError(f"{path}: not a refiner checkpoint ({e}).") from None
    try:
        Refiner(width).load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path}: the weights do not match a refiner of width {width} ({e}).") from None
    return width, kind, {k: v.float() for k, v in state.items()}


def attach_refiner(model: IFCN, path: Path) -> IFCN:
    """`model` with the learned refiner of `path` (replacing any it had): a new IFCN sharing its backbone."""
    width, kind, state = read_refiner(path)
    spec = dataclasses.replace(model.spec, extra={**model.spec.extra, "refiner": {"arch": REFINER_ARCH,
                                                                                   "width": width, "input": kind}})
    net = IFCN(spec, model.backbone)
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("refiner.")}
    net.load_state_dict({**own, **{f"refiner.{k}": v for k, v in state.items()}}, strict=True)
    return net.eval()


def export_checkpoint(src: Path, dst: Path, half: bool = True, noc_summary: Path | None = None,
                      noc_refined_summary: Path | None = None, note: str | None = None,
                      refiner: Path | None = None, val_iou: float | None = None) -> dict:
    """Write `src`'s model to `dst` without resumable state (with the learned refiner of `refiner` attached);
    returns the metadata written."""
    loaded = load_checkpoint(src)
    model = loaded.model if refiner is None else attach_refiner(loaded.model, refiner)
    meta = dict(loaded.meta)
    for key, path in (("", noc_summary), ("grabcut_", noc_refined_summary)):
        if path is None:
            continue
        try:
            summary = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise IFCNError(f"{path}: not a readable NoC summary ({e}).") from None
        for k in ("noc@85", "noc@90", "failed@85", "failed@90", "objects", "zoom_in", "brs"):
            if k in summary:
                meta[f"{key}{k}" if key else k] = summary[k]
    if note:
        meta["note"] = note
    if val_iou is not None:  # e.g. an `ifcn average` result, which no training run validated
        meta["val_iou"] = float(val_iou)
    meta["exported_from"] = str(src)
    if refiner is not None:
        meta["refiner_from"] = str(refiner)
    save_checkpoint(dst, model, meta=meta, extra={}, half=half)
    return meta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`ifcn export --checkpoint FILE --out FILE [--fp32] [--noc DIR] [--noc-refined DIR] [--refiner FILE]`."""
    parser.add_argument("--checkpoint", required=True, type=Path, help="training checkpoint (best.pt)")
    parser.add_argument("--out", required=True, type=Path, help="model file to write")
    parser.add_argument("--fp32", action="store_true", help="keep fp32 weights (default: fp16 storage)")
    parser.add_argument("--noc", type=Path, help="`ifcn noc` output folder to record (summary.json)")
    parser.add_argument("--noc-refined", type=Path,
                        help="`ifcn noc --refine` output folder to record as grabcut_noc@85/@90")
    parser.add_argument("--note", help="free-text note stored in the metadata")
    parser.add_argument("--val-iou", type=float,
                        help="validation IoU to record (a checkpoint no training run validated, e.g. `ifcn average`'s; "
                             "training/recipes/val_iou.py measures it as `ifcn train` does)")
    parser.add_argument("--refiner", type=Path,
                        help="`ifcn train-refiner` checkpoint (best.pt) whose learned refiner the model carries")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn export`."""
    meta = export_checkpoint(args.checkpoint, args.out, half=not args.fp32,
                             noc_summary=args.noc / "summary.json" if args.noc else None,
                             noc_refined_summary=args.noc_refined / "summary.json" if args.noc_refined else None,
                             note=args.note, refiner=args.refiner, val_iou=args.val_iou)
    size = args.out.stat().st_size / 1e6
    shown = {k: meta[k] for k in ("val_iou", "noc@85", "noc@90", "steps") if k in meta}
    print(f"wrote {args.out} ({size:.1f} MB) {shown}")
    return 0
