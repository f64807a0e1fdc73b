"""`ifcn convert`: the annotator's output folder to COCO, labelme or YOLO-seg, and labelme/COCO back into it.

Export (``--to coco|labelme|yolo``) reads what the annotator saved (`training.formats.annotator_read`:
finished objects, VOC's 255 as the ignore region, class names from the folder's class list) and writes a
self-contained folder (`training.formats.exporting`; one module a format: `coco`, `labelme`, `yolo`, over
the shared `polygons` and COCO RLE helpers).

Import (``--from labelme|coco``) reads the other tool's files (`training.formats.importing`) and writes the
annotator's own files into ``--out`` (the folder the annotator opens, usually the image folder) exactly as
the annotator saves them (`training.formats.annotator_write`), so every object opens finished and
editable. Class names already in use in ``--out`` keep their indices. What each format keeps and loses is
in docs/formats.md.

With ``--progress-json`` stdout carries JSON lines (format of `training.progress`): ``convert`` (the
summary fields) then ``end``, or ``error`` with a ``message``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from models.errors import DatasetError, IFCNError
from training.formats.annotator_read import class_table, read_annotator_output
from training.formats.annotator_write import store_class_list, write_annotator_output
from training.formats.exporting import FORMATS, export
from training.formats.importing import (assign_indices, default_coco_images, read_coco_file, read_labelme_folder,
                                        read_labels_file)
from training.formats.summary import ConvertSummary

IMPORT_FORMATS = ("labelme", "coco")

__all__ = ["FORMATS", "IMPORT_FORMATS", "ConvertSummary", "add_arguments", "assign_indices", "class_table",
           "default_coco_images", "export", "read_annotator_output", "read_coco_file", "read_labelme_folder",
           "read_labels_file", "run", "store_class_list", "write_annotator_output"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn convert`."""
    a = parser.add_argument
    way = parser.add_mutually_exclusive_group(required=True)
    way.add_argument("--to", choices=FORMATS, help="export the annotator's output folder ANNOTATIONS to this format")
    way.add_argument("--from", dest="from_", choices=IMPORT_FORMATS,
                     help="import ANNOTATIONS (a folder of labelme files, or a COCO JSON file) into OUT")
    a("--annotations", required=True,
      help="export: the annotator's output folder; import: the labelme folder or the COCO JSON file")
    a("--images", help="folder of the images (export: default ANNOTATIONS/JPEGImages if it exists, else "
                       "ANNOTATIONS; import: default beside the labelme files / the COCO file, or images/ "
                       "beside the COCO file's annotations/ folder)")
    a("--out", required=True, help="export: a new or empty folder (or one written by ifcn convert); "
                                   "import: the annotator's output folder, usually the image folder")
    a("--polygons", action="store_true", help="coco: polygons instead of RLE (holes are filled)")
    a("--masks", action="store_true", help="labelme: exact mask shapes (labelme 5.3+) instead of polygons")
    a("--holdout", type=float, default=0.0, help="yolo: share of images in a val split (default 0: val = train)")
    a("--seed", type=int, default=0, help="yolo: seed of the --holdout split")
    a("--copy", action="store_true", help="copy the images instead of hardlinking them")
    a("--labels", help="import labelme: class list (labels.txt, one name a line) fixing the class order")
    a("--overwrite", action="store_true", help="import: replace annotations that already exist in OUT")
    a("--progress-json", action="store_true", help="JSON lines on stdout (see the module docstring)")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn convert`."""
    from training.progress import ProgressWriter

    progress = ProgressWriter(enabled=bool(args.progress_json))
    human = sys.stderr if args.progress_json else sys.stdout
    try:
        if args.to:
            data = read_annotator_output(args.annotations, args.images)
            if not data.images:
                raise DatasetError(f"{args.annotations}: no finished objects to export (annotate and save some "
                                   "first; unfinished objects are not exported).")
            summary = export(data, args.to, args.out, polygons=args.polygons, masks=args.masks,
                             holdout=args.holdout, seed=args.seed, link=not args.copy)
            summary.source = str(args.annotations)
        else:
            existing = class_table(args.out)
            shapes_skipped = 0
            if args.from_ == "labelme":
                labels = read_labels_file(args.labels) if args.labels else None
                data, shapes_skipped = read_labelme_folder(args.annotations, args.images, existing, labels)
            else:
                data = read_coco_file(args.annotations, args.images, existing)
            summary = write_annotator_output(data, args.out, overwrite=args.overwrite)
            if summary.images:
                store_class_list(args.out, data.classes)
            summary.format, summary.source = args.from_, str(args.annotations)
            summary.shapes_skipped = shapes_skipped
            summary.skipped = data.skipped + summary.skipped
        print(summary.text(), file=human, flush=True)
        if not args.to and summary.images:
            images = args.images or (args.annotations if args.from_ == "labelme"
                                     else default_coco_images(Path(args.annotations)))
            print(f"open them with: ifcn annotate {images}"
                  + ("" if _default_output(images) == Path(args.out).resolve()
                     else f"  (then File → Change Output Folder… {args.out})"), file=human)
        progress.emit("convert", **summary.to_dict())
    except IFCNError as e:
        progress.emit("error", message=str(e))
        raise
    progress.emit("end", status="completed")
    return 0


def _default_output(images: str | os.PathLike) -> Path:
    """Where the annotator saves for an image folder (the folder, or the parent of a VOC JPEGImages/)."""
    folder = Path(images).resolve()
    return folder.parent if folder.name == "JPEGImages" else folder
