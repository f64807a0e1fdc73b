"""Reading the annotator's output folder for an export: finished objects, void regions and class names.

The folder is what `annotator.label_file` writes (found by `training.annotations.find_annotations`, the
reader `ifcn devkit` uses): `SegmentationObject/<stem>.png` (one instance index an object, its visible
pixels), `SegmentationClass/<stem>.png` (the class of each pixel), VOC's 255 as the ignore region, and the
sidecar `annotations/<stem>.json`; class names come from the folder's class list (classes.json), else the
sidecars' class tables, else the VOC name of the index. A VOC devkit without sidecars reads the same way.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from models.class_list import read_folder_classes
from models.errors import ClassListError, DatasetError, ImageReadError
from models.fileio import read_index_png, voc_instances
from training.annotations import AnnotatedImage, find_annotations
from training.formats import VOID, Dataset, ImageAnnotation, Instance, default_class_name

# The annotator's own output (annotator/label_file.py owns it; these names and the sidecar schema are its).
CLASS_DIR, OBJECT_DIR, SIDECAR_DIR = "SegmentationClass", "SegmentationObject", "annotations"
SIDECAR_FORMAT, SIDECAR_VERSION = "ifcn-annotation", 1
MAX_SIDECAR_BYTES = 64 * 2**20


def read_json_file(path: Path, limit: int) -> Any:
    """Parsed JSON of `path` (DatasetError naming it when unreadable, too large or not JSON)."""
    try:
        if not path.is_file():
            raise DatasetError(f"{path}: no such file.")
        if path.stat().st_size > limit:
            raise DatasetError(f"{path}: over {limit // 2**20} MB, too large to read.")
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise DatasetError(f"{path}: not valid JSON ({str(e)[:200]}).") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot be read ({e.strerror or e}).") from None


def class_table(out_dir: str | os.PathLike) -> dict[int, str]:
    """Class index -> name: the output folder's class list (`classes.json`, models.class_list), completed
    for the indices it lacks by the sidecars' class tables (folders annotated before it existed; the newest
    sidecar wins). A broken classes.json is a DatasetError naming it."""
    try:
        listed = read_folder_classes(out_dir)
    except ClassListError as e:
        raise DatasetError(f"{e} Fix or delete it (the annotator rebuilds it from the annotations).") from None
    table = sidecar_class_table(out_dir)
    table.update({c.index: c.name for c in listed or ()})
    return table


def sidecar_class_table(out_dir: str | os.PathLike) -> dict[int, str]:
    """Class index -> name from the class tables of the sidecars in `out_dir` (the newest sidecar wins)."""
    folder = Path(out_dir) / SIDECAR_DIR
    try:
        sidecars = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return {}
    table: dict[int, str] = {}
    for path in sidecars:
        try:
            doc = read_json_file(path, MAX_SIDECAR_BYTES)
        except DatasetError:
            continue  # the annotator reports broken sidecars; their PNGs are still exported
        if not isinstance(doc, dict) or doc.get("format") != SIDECAR_FORMAT or not isinstance(doc.get("classes"), list):
            continue
        for c in doc["classes"]:
            if isinstance(c, dict) and isinstance(c.get("index"), int) and 1 <= c["index"] <= 254 \
                    and isinstance(c.get("name"), str) and c["name"].strip():
                table[c["index"]] = c["name"].strip()
    return table


def _load_pngs(a: AnnotatedImage, classes: dict[int, str]) -> ImageAnnotation:
    """The objects (one an instance index, class = the majority of its pixels) and ignore region of the
    annotator's PNGs of one image; ValueError with the reason when they cannot be read."""
    try:
        inst = read_index_png(a.object_png)
        cls = read_index_png(a.class_png) if a.class_png is not None else None
    except ImageReadError as e:
        raise ValueError(str(e)) from None
    if cls is not None and cls.shape != inst.shape:
        raise ValueError(f"{a.class_png.name}: its size differs from {a.object_png.name}")
    img = ImageAnnotation(image=a.image, height=inst.shape[0], width=inst.shape[1])
    for k, mask, index in voc_instances(inst, cls, VOID):
        if index not in classes:
            raise ValueError(f"class {index} of object {k} is in no class table (resave the image in the annotator)")
        img.objects.append(Instance(index, mask))
    void = (inst == VOID) if cls is None else ((inst == VOID) | (cls == VOID))
    img.void = void if void.any() else None
    return img


def _classes_in(a: AnnotatedImage) -> set[int]:
    """The class indices of one image's objects, from its class PNG (1 without one, as the annotator reads it)."""
    if a.class_png is None:
        return {1}
    vals = np.unique(read_index_png(a.class_png))
    return {int(v) for v in vals if v not in (0, VOID)}


def devkit_base(folder: Path) -> Path:
    """The folder holding SegmentationObject/: `folder` itself, or the VOC2012/ of a devkit given by its root
    (VOCdevkit/ or the folder above it, as `ifcn train --voc-root` takes it)."""
    for base in (folder, folder / "VOC2012", folder / "VOCdevkit" / "VOC2012"):
        if (base / OBJECT_DIR).is_dir():
            return base
    return folder


def read_annotator_output(annotations_dir: str | os.PathLike, images_dir: str | os.PathLike | None = None) -> Dataset:
    """The finished objects and ignore regions the annotator saved in `annotations_dir` (a VOC devkit too),
    read one image at a time by `Dataset.loaded()`; an image with only an ignore region is kept (it is a
    negative), images that cannot be used are in `skipped`, with reasons."""
    out = devkit_base(Path(annotations_dir))
    found, skipped = find_annotations(out, images_dir, min_area=0, void_only=True)
    names = class_table(out)
    data = Dataset(classes={}, skipped=skipped)
    sources: dict[Path, AnnotatedImage] = {}
    used: set[int] = set()
    for a in found:
        if not (out / SIDECAR_DIR / f"{a.stem}.json").is_file():  # plain VOC PNGs: no class table names them
            try:
                used |= _classes_in(a)
            except ImageReadError as e:
                data.skipped.append({"image": a.image.name, "reason": str(e)})
                continue
        sources[a.image] = a
        data.images.append(ImageAnnotation(image=a.image, height=0, width=0))  # size read with the masks
    data.classes = {i: names.get(i, default_class_name(i)) for i in sorted(set(names) | used)}
    data.loader = lambda header: _load_pngs(sources[header.image], data.classes)
    return data
