"""A smaller copy of object folders, for training on another machine (`python -m training.pack`).

Training with `--base-size 512` first resizes every photo to a longest side of 512 px, so a copy at that
size trains the same; it is about half the size of the photos as distributed (which lets the real training
data travel to an accelerator machine whose upload is limited). Every image keeps its stem, so the held-out
split (`training.layouts.in_val_split`, a hash of the stem) is the same in the copy; masks are resized with
nearest-neighbour so they keep their 0 / 128 / 255 values; each source's SOURCE.md (its terms) is copied
along. Images that cannot be read are reported and left out; the copy is written atomically file by file.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from models.errors import IFCNError
from models.fileio import atomic_write_bytes, read_index_png
from models.predictor import fit_longest  # the annotator's own downscale to its working size
from training.layouts import open_object_sources
from training.voc import SAMPLE_ERRORS


def _encode(ext: str, a: np.ndarray, params: list[int]) -> bytes:
    ok, buf = cv2.imencode(ext, a, params)
    if not ok:
        raise IFCNError(f"could not encode a {ext} file")
    return buf.tobytes()


def pack(specs: list[str], out: str | Path, longest: int = 512, quality: int = 90) -> dict[str, dict[str, int]]:
    """Copy the object folders `specs` (folders or collections, as `ifcn train --data` takes them; weights
    ignored) to `out/<source name>/`, images at most `longest` px on their longer side; returns per source
    the images and masks written and the images skipped."""
    if longest < 8:
        raise IFCNError(f"--longest must be at least 8 pixels, got {longest}.")
    if not 1 <= quality <= 100:
        raise IFCNError(f"--quality must lie in 1..100, got {quality}.")
    out = Path(out)
    counts: dict[str, dict[str, int]] = {}
    for folder, _ in open_object_sources(list(specs)):
        dst = out / folder.name
        (dst / "images").mkdir(parents=True, exist_ok=True)
        (dst / "masks").mkdir(parents=True, exist_ok=True)
        c = counts.setdefault(folder.name, {"images": 0, "masks": 0, "skipped": 0})
        if (folder.root / "SOURCE.md").is_file():
            shutil.copyfile(folder.root / "SOURCE.md", dst / "SOURCE.md")
        for image_id in folder.image_ids("all"):
            try:
                rgb = fit_longest(folder.load_rgb(image_id), longest)
                masks = [(k, read_index_png(folder.mask_path(image_id, k))) for k in folder.object_ids(image_id)]
            except SAMPLE_ERRORS as e:
                print(f"skipped {image_id}: {e}", file=sys.stderr)
                c["skipped"] += 1
                continue
            h, w = rgb.shape[:2]
            for k, m in masks:
                m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) if m.shape != (h, w) else m
                png = _encode(".png", m, [cv2.IMWRITE_PNG_COMPRESSION, 9])
                atomic_write_bytes(dst / "masks" / f"{image_id}_{k}.png", png)
                c["masks"] += 1
            jpg = _encode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
            atomic_write_bytes(dst / "images" / f"{image_id}.jpg", jpg)
            c["images"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.pack", description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+", metavar="DIR", help="object folders or collections (as for --data)")
    ap.add_argument("--out", required=True, help="folder for the copy (one sub-folder per source)")
    ap.add_argument("--longest", type=int, default=512, help="longest image side in px (default 512)")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality of the images (default 90)")
    args = ap.parse_args(argv)
    try:
        counts = pack(args.data, args.out, args.longest, args.quality)
    except IFCNError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, c in counts.items():
        print(f"{name}: {c['images']} images, {c['masks']} masks"
              + (f", {c['skipped']} unreadable image(s) skipped" if c["skipped"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
