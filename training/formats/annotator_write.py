"""Writing imported annotations into the annotator's output folder, exactly as the annotator saves them.

Each image gets its sidecar `annotations/<stem>.json` (schema in annotator/label_file.py: finished
objects without clicks, each with its whole mask as RLE; the void layer) and both VOC PNGs, so every
object opens finished and editable; the folder's class list (classes.json) gains the imported classes.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from models.class_list import ClassDef, ClassTable, folder_class_file, read_folder_classes, voc_color, write_class_file
from models.errors import DatasetError, ImageReadError
from models.fileio import atomic_write_bytes, atomic_write_text, encode_index_png, read_index_png, voc_colormap
from training.formats import VOID, Dataset, ImageAnnotation
from training.formats.annotator_read import (CLASS_DIR, MAX_SIDECAR_BYTES, OBJECT_DIR, SIDECAR_DIR, SIDECAR_FORMAT,
                                             SIDECAR_VERSION, read_json_file, sidecar_class_table)
from training.formats.coco import runs
from training.formats.summary import ConvertSummary


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image as the annotator shows it (EXIF orientation applied); ImageReadError if not."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such image.") from None
    except Exception as e:  # PIL raises many types for garbage
        raise ImageReadError(f"{path}: not a readable image ({e}).") from None
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def _sidecar_text(img: ImageAnnotation, classes: dict[int, str]) -> str:
    """The annotator's sidecar (schema in annotator/label_file.py) for finished objects without clicks."""
    cmap = voc_colormap()
    doc = {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "image": img.image.name,
           "size": [img.width, img.height],
           "classes": [{"index": i, "name": n, "color": [int(v) for v in cmap[i]]} for i, n in sorted(classes.items())],
           "objects": [{"instance": k, "class": o.class_index, "clicks": [], "strokes": [],
                        "mask": {"rle": runs(o.mask.ravel())}} for k, o in enumerate(img.objects, start=1)],
           "void": None if img.void is None else {"rle": runs(img.void.ravel())},
           "current": None}
    return json.dumps(doc, separators=(",", ":"))


def _has_objects(sidecar: Path, object_png: Path) -> bool:
    """True when the annotator's files hold an object (finished or not); an unreadable file counts as one."""
    if sidecar.exists():
        try:
            doc = read_json_file(sidecar, MAX_SIDECAR_BYTES)
        except DatasetError:
            return True
        return not isinstance(doc, dict) or bool(doc.get("objects")) or doc.get("current") is not None
    if object_png.exists():
        try:
            return bool(read_index_png(object_png).any())
        except ImageReadError:
            return True
    return False


def write_annotator_output(data: Dataset, out: str | os.PathLike, overwrite: bool = False) -> ConvertSummary:
    """Write each image's sidecar and VOC PNGs into `out` as the annotator saves them.

    An image that already has objects in `out` is skipped unless `overwrite` (one opened and left empty is
    not); an image file that is missing or whose size differs from the annotation's is skipped (reasons
    in the summary).
    """
    out = Path(out)
    summary = ConvertSummary("import", "", "", str(out), classes=len(data.classes))
    palette = voc_colormap()  # the class colours written are the VOC colours of their indices
    stems: set[str] = set()
    for img in data.loaded():
        name = img.image.name
        stem = img.image.stem
        if not img.objects and img.void is None:
            continue
        files = [out / SIDECAR_DIR / f"{stem}.json", out / CLASS_DIR / f"{stem}.png", out / OBJECT_DIR / f"{stem}.png"]
        if stem in stems:
            summary.skipped.append({"image": name, "reason": f"another image named {stem}.* was imported; the "
                                                             "annotator keeps one annotation per name stem"})
            continue
        if len(img.objects) > 254:
            summary.skipped.append({"image": name, "reason": f"{len(img.objects)} objects; the annotator holds 254"})
            continue
        try:
            if image_size(img.image) != (img.height, img.width):
                h, w = image_size(img.image)
                raise ImageReadError(f"{img.image}: the image is {w}x{h} but its annotation is for "
                                     f"{img.width}x{img.height}.")
        except ImageReadError as e:
            summary.skipped.append({"image": name, "reason": str(e)})
            continue
        if not overwrite and _has_objects(files[0], files[2]):
            summary.skipped.append({"image": name, "reason": f"already annotated in {out} (--overwrite replaces it)"})
            continue
        text = _sidecar_text(img, data.classes)
        if len(text) > MAX_SIDECAR_BYTES:
            summary.skipped.append({"image": name, "reason": "the annotation would be over the annotator's 64 MB"})
            continue
        cls = np.zeros((img.height, img.width), dtype=np.uint8)
        inst = np.zeros_like(cls)
        for k, o in enumerate(img.objects, start=1):  # later objects win, as annotator.state.compose
            cls[o.mask] = o.class_index
            inst[o.mask] = k
        if img.void is not None:  # the ignore region: 255 over everything, as annotator.void_layer writes it
            cls[img.void] = inst[img.void] = VOID
        atomic_write_text(files[0], text)  # sidecar first, then the PNGs, as the annotator writes
        atomic_write_bytes(files[1], encode_index_png(cls, palette))
        atomic_write_bytes(files[2], encode_index_png(inst, palette))
        stems.add(stem)
        summary.images += 1
        summary.objects += len(img.objects)
        summary.ignore_regions += img.void is not None
        summary.files += [str(f) for f in files]
    return summary


def store_class_list(out: str | os.PathLike, classes: dict[int, str]) -> None:
    """Add the imported classes the output folder's class list lacks to its classes.json (so the annotator
    never gives their indices to new classes)."""
    table = read_folder_classes(out)
    if table is None:
        table = ClassTable(())
        for i, n in sorted(sidecar_class_table(out).items()):
            try:
                table.merge([ClassDef(i, n, voc_color(i))])
            except ValueError:
                continue  # a name the list cannot hold (repeated, control characters): "class N" in the annotator
    before = len(table)
    for i, name in sorted(classes.items()):
        if i not in table and table.find(name) is None:
            try:
                table.add(name, index=i)
            except ValueError:
                continue
    if len(table) != before or not folder_class_file(out).exists():
        write_class_file(folder_class_file(out), table)
