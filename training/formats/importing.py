"""Reading labelme folders and COCO files for an import, their class names fitted to the annotator's indices."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from models.class_list import read_labels_file as read_labels
from models.errors import DatasetError
from training.formats import VOC_CLASSES, Dataset, ImageAnnotation, coco, labelme
from training.formats.annotator_read import read_json_file

MAX_INPUT_JSON_BYTES = 2 * 2**30


def assign_indices(wanted: list[tuple[str, int | None]], existing: dict[int, str]) -> dict[str, int]:
    """Class name -> annotator index for imported names: the index the name has in `existing`, else its
    preferred index if free, else its VOC index if free, else the lowest free one. DatasetError past 254."""
    by_name = {n: i for i, n in existing.items()}
    taken = set(existing)
    out: dict[str, int] = {}
    for name, preferred in wanted:
        if name in out:
            continue
        if name in by_name:
            out[name] = by_name[name]
            continue
        voc = VOC_CLASSES.index(name) + 1 if name in VOC_CLASSES else None
        pick = next((i for i in (preferred, voc) if i is not None and 1 <= i <= 254 and i not in taken), None)
        if pick is None:
            pick = next((i for i in range(1, 255) if i not in taken), None)
        if pick is None:
            raise DatasetError(f"more than 254 classes (at '{name}'); the annotator holds at most 254.")
        out[name] = pick
        taken.add(pick)
    return out


def read_labels_file(path: str | os.PathLike) -> list[str]:
    """Class names of a labelme-style labels.txt (one a line; `__ignore__` and `_background_` left out)."""
    return list(read_labels(path).names)


def _read_labelme(path: Path) -> dict[str, Any]:
    """A checked labelme document (ValueError with the reason when it is not one)."""
    try:
        doc = read_json_file(path, MAX_INPUT_JSON_BYTES)
    except DatasetError as e:
        raise ValueError(str(e)) from None
    labelme.check_document(doc)
    return doc


def read_labelme_folder(folder: str | os.PathLike, images_dir: str | os.PathLike | None, existing: dict[int, str],
                        labels: list[str] | None = None) -> tuple[Dataset, int]:
    """(dataset, shapes skipped because they are no region) of the labelme files in `folder`.

    Each file is read twice: for its labels (the class table is fixed before any image is written), then
    for its shapes when `Dataset.loaded()` reaches it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder of labelme files.")
    images = Path(images_dir) if images_dir is not None else None
    data = Dataset(classes={})
    sources: dict[Path, Path] = {}  # image -> its labelme file
    found: set[str] = set()
    not_regions = 0
    for path in sorted(folder.glob("*.json")):
        try:
            doc = _read_labelme(path)
        except ValueError as e:
            data.skipped.append({"image": path.name, "reason": str(e)})
            continue
        image = labelme.image_path_of(doc, path, images)
        if image in sources:
            data.skipped.append({"image": path.name, "reason": f"{sources[image].name} annotates {image.name} too"})
            continue
        found |= labelme.labels_of(doc)
        not_regions += sum((s.get("shape_type") or "polygon") not in labelme.REGION_TYPES for s in doc["shapes"])
        sources[image] = path
        data.images.append(ImageAnnotation(image=image, height=doc["imageHeight"], width=doc["imageWidth"]))
    if not sources:
        raise DatasetError(f"{folder}: no labelme files (<image>.json with 'shapes' and 'imagePath') here.")
    if labels is not None:
        unknown = sorted(found - set(labels))
        if unknown:
            raise DatasetError(f"labels {unknown[:5]} are used but not in the class list given with --labels.")
        wanted = [(n, k) for k, n in enumerate(labels, start=1)]
    else:
        wanted = [(n, None) for n in sorted(found)]
    index = assign_indices(wanted, existing)
    data.classes = {**existing, **{i: n for n, i in index.items()}}

    def load(header: ImageAnnotation) -> ImageAnnotation:
        path = sources[header.image]
        doc = _read_labelme(path)
        if labelme.labels_of(doc) - set(index):
            raise ValueError(f"{path.name} changed while it was imported")
        try:
            return labelme.from_labelme(doc, header.image, index)[0]
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path.name}: malformed shape ({str(e)[:200]})") from None

    data.loader = load
    return data, not_regions


def read_coco_file(path: str | os.PathLike, images_dir: str | os.PathLike | None,
                   existing: dict[int, str]) -> Dataset:
    """The images of a COCO instances file, class indices fitted to the class table `existing`."""
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder; --annotations needs the COCO JSON file.")
    images = Path(images_dir) if images_dir is not None else default_coco_images(path)
    data = coco.from_coco(read_json_file(path, MAX_INPUT_JSON_BYTES), path, images)
    index = assign_indices([(n, i) for i, n in sorted(data.classes.items())], existing)
    remap = {i: index[n] for i, n in data.classes.items()}
    load = data.loader

    def load_remapped(header: ImageAnnotation) -> ImageAnnotation:
        img = load(header)
        for o in img.objects:
            o.class_index = remap[o.class_index]
        return img

    data.loader = load_remapped
    data.classes = {**existing, **{i: n for n, i in index.items()}}
    return data


def default_coco_images(path: Path) -> Path:
    """Where a COCO file's images are when --images is not given: `images/` beside its `annotations/`
    folder (CVAT's and `ifcn convert`'s layout), else the file's folder."""
    sibling = path.parent.parent / "images"
    return sibling if path.parent.name == "annotations" and sibling.is_dir() else path.parent
