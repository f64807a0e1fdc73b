"""`ifcn export`: turn a training checkpoint into a shippable model file (fp16, no optimiser state).

Optionally folds NoC summaries (from `ifcn noc`) into the metadata, so the annotator's Model menu and
`ifcn info` can show them.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import IFCNError


def export_checkpoint(src: Path, dst: Path, half: bool = True, noc_summary: Path | None = None,
                      noc_refined_summary: Path | None = None, note: str | None = None) -> dict:
    """Write `src`'s model to `dst` without resumable state; returns the metadata written."""
    loaded = load_checkpoint(src)
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
    meta["exported_from"] = str(src)
    save_checkpoint(dst, loaded.model, meta=meta, extra={}, half=half)
    return meta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`ifcn export --checkpoint FILE --out FILE [--fp32] [--noc DIR] [--noc-refined DIR]`."""
    parser.add_argument("--checkpoint", required=True, type=Path, help="training checkpoint (best.pt)")
    parser.add_argument("--out", required=True, type=Path, help="model file to write")
    parser.add_argument("--fp32", action="store_true", help="keep fp32 weights (default: fp16 storage)")
    parser.add_argument("--noc", type=Path, help="`ifcn noc` output folder to record (summary.json)")
    parser.add_argument("--noc-refined", type=Path,
                        help="`ifcn noc --refine` output folder to record as grabcut_noc@85/@90")
    parser.add_argument("--note", help="free-text note stored in the metadata")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn export`."""
    meta = export_checkpoint(args.checkpoint, args.out, half=not args.fp32,
                             noc_summary=args.noc / "summary.json" if args.noc else None,
                             noc_refined_summary=args.noc_refined / "summary.json" if args.noc_refined else None,
                             note=args.note)
    size = args.out.stat().st_size / 1e6
    shown = {k: meta[k] for k in ("val_iou", "noc@85", "noc@90", "steps") if k in meta}
    print(f"wrote {args.out} ({size:.1f} MB) {shown}")
    return 0
