"""Writing a `Dataset` as a COCO, labelme or YOLO-seg folder (the formats' own modules write each file).

Every export is a self-contained folder with the images hardlinked (or copied) beside the labels:

- coco: ``images/`` + ``annotations/instances_default.json`` (RLE; ``polygons`` for polygons);
- labelme: ``<image>`` + ``<stem>.json`` side by side (polygons; ``masks`` for exact mask shapes), and
  ``labels.txt`` (the class list as labelme's converters take it);
- yolo: ``images/train``, ``labels/train`` (and ``val`` with a holdout) + ``data.yaml``.

A marker file lists what an export wrote, so exporting again into the folder replaces exactly that.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from models.errors import IFCNError
from models.fileio import atomic_write_text
from training.annotations import split_holdout
from training.formats import BACKGROUND_LABEL, IGNORE_LABEL, Dataset, coco, labelme, yolo
from training.formats.summary import ConvertSummary

FORMATS = ("coco", "labelme", "yolo")
MARKER = ".ifcn-convert"  # JSON listing what an export wrote, so exporting again replaces exactly that
COCO_JSON = Path("annotations") / "instances_default.json"


def prepare_export(out: Path) -> None:
    """Make `out`, or clear the files a previous export listed there; refuse other non-empty folders."""
    if out.exists() and not out.is_dir():
        raise IFCNError(f"{out}: exists and is not a folder; choose another --out.")
    marker = out / MARKER
    if out.is_dir() and any(out.iterdir()):
        if not marker.is_file():
            raise IFCNError(f"{out}: the folder is not empty and was not written by `ifcn convert`; choose an "
                            "empty or new --out folder.")
        try:
            previous = json.loads(marker.read_text(encoding="utf-8")).get("files", [])
        except (OSError, ValueError, AttributeError):
            previous = []
        for rel in previous if isinstance(previous, list) else []:
            p = out / str(rel)
            if isinstance(rel, str) and not Path(rel).is_absolute() and ".." not in Path(rel).parts:
                p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def place_file(src: Path, dst: Path, link: bool) -> None:
    """Hardlink `src` to `dst` (a copy when linking is impossible or not wanted)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


def export(data: Dataset, fmt: str, out: str | os.PathLike, *, polygons: bool = False, masks: bool = False,
           holdout: float = 0.0, seed: int = 0, link: bool = True) -> ConvertSummary:
    """Write `data` in format `fmt` ("coco", "labelme" or "yolo") into the folder `out`, one image at a time."""
    if fmt not in FORMATS:
        raise IFCNError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    out = Path(out)
    prepare_export(out)
    summary = ConvertSummary("export", fmt, "", str(out), classes=len(data.classes))
    written: list[Path] = []

    def write_text(rel: Path, text: str) -> None:
        atomic_write_text(out / rel, text)
        written.append(rel)

    def place(src: Path, rel: Path) -> None:
        place_file(src, out / rel, link)
        written.append(rel)

    builder = coco.CocoBuilder(polygons=polygons)
    numbers = yolo.class_numbers(data.classes)
    _, val = split_holdout([img.image.stem for img in data.images], holdout, seed)
    held = set(val)
    for img in data.loaded():
        if fmt == "coco":
            place(img.image, Path("images") / img.image.name)
            builder.add(img, img.image.name)
        elif fmt == "labelme":
            place(img.image, Path(img.image.name))
            doc, filled = labelme.to_labelme(img, img.image.name, data.classes, masks=masks)
            summary.holes_filled += filled
            write_text(Path(f"{img.image.stem}.json"), json.dumps(doc, ensure_ascii=False, indent=2))
        else:
            split = "val" if img.image.stem in held else "train"
            place(img.image, Path("images") / split / img.image.name)
            lines, filled = yolo.label_lines(img, numbers)
            summary.holes_filled += filled
            summary.ignore_dropped += img.void is not None
            write_text(Path("labels") / split / f"{img.image.stem}.txt", "".join(f"{s}\n" for s in lines))
        summary.images += 1
        summary.objects += len(img.objects)
        summary.ignore_regions += img.void is not None
    if fmt == "coco":
        summary.holes_filled = builder.holes_filled
        write_text(COCO_JSON, json.dumps(builder.document(data.classes), separators=(",", ":")))
    elif fmt == "labelme":  # labelme's converters (labelme2voc, labelme2coco) take the class list as labels.txt
        names = [data.classes[i] for i in sorted(data.classes)]
        write_text(Path("labels.txt"), "".join(f"{n}\n" for n in [IGNORE_LABEL, BACKGROUND_LABEL, *names]))
    else:
        write_text(Path("data.yaml"), yolo.data_yaml(str(out.resolve()), "images/train",
                                                     "images/val" if val else "images/train", data.classes))
    summary.skipped = list(data.skipped)
    summary.files = [str(out / p) for p in written]
    atomic_write_text(out / MARKER, json.dumps({"format": fmt, "files": [p.as_posix() for p in written]}, indent=1))
    return summary
