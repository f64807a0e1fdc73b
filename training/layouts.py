"""Folders of real photos with one mask file per object, and how a data folder's layout is detected.

The *object-folder* layout (`images/<stem>.<ext>` + `masks/<stem>_<k>.png`, k = 0, 1, ...) is the one
of the standard interactive-segmentation benchmarks (GrabCut, Berkeley as f-BRS/RITM ship them) and of
many real-photo training sets. Each mask is single-channel 8-bit: 0 = background, 255 = the object,
128 = ignore (left out of the loss, the IoU and click placement). Objects may overlap (a person and her
coat), so objects are read one at a time, never merged into one instance map.

A *collection* is a folder whose sub-folders are object folders (e.g. one per source); training samples
it by source with per-source weights instead of uniformly by object.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from models.errors import DatasetError
from models.fileio import IMAGE_SUFFIXES, list_images, read_image, read_index_png

#: Values of a per-object mask file.
OBJECT, IGNORE_VALUE = 255, 128
#: Label values of `ObjectFolder.load_object`'s map: the object, other objects from 2 up, ignore.
TARGET_LABEL, VOID_LABEL = 1, 255
#: Splits of an object folder: every image, or a fixed hold-out (by a hash of the stem) and the rest.
SPLITS = ("all", "train", "val")
_MASK_NAME = re.compile(r"^(?P<stem>.+)_(?P<k>\d+)$")

LAYOUT_VOC = "VOC devkit"
LAYOUT_OBJECTS = "object folder (images/<stem>.<ext> + masks/<stem>_<k>.png, one object per file)"
LAYOUT_INSTANCES = "instance-map folder (masks/<stem>.png holding 1..N per object)"
LAYOUT_COLLECTION = "collection of object folders (one sub-folder per source)"


def in_val_split(stem: str, val_percent: int = 10) -> bool:
    """True for the stems of the fixed hold-out (a stable hash, so it never depends on file order)."""
    h = int.from_bytes(hashlib.sha1(stem.encode("utf-8")).digest()[:4], "big")
    return h % 100 < val_percent


@dataclass(frozen=True)
class ObjectRef:
    """One object: its image stem and mask index k."""

    image_id: str
    k: int


def scan_masks(images: dict[str, Path], masks_dir: Path) -> tuple[dict[str, list[int]], list[str], list[str]]:
    """(object masks by image stem, instance-map masks, orphans) of a masks folder.

    A mask `<stem>.png` of an image is an instance map; `<stem>_<k>.png` of an image is one object.
    """
    per_object: dict[str, list[int]] = {}
    instance_maps: list[str] = []
    orphans: list[str] = []
    for p in sorted(masks_dir.iterdir()) if masks_dir.is_dir() else []:
        if p.suffix.lower() != ".png" or not p.is_file():
            continue
        m = _MASK_NAME.match(p.stem)
        if m and m.group("stem") in images:
            per_object.setdefault(m.group("stem"), []).append(int(m.group("k")))
        elif p.stem in images:
            instance_maps.append(p.stem)
        else:
            orphans.append(p.name)
    for ks in per_object.values():
        ks.sort()
    return per_object, instance_maps, orphans


class ObjectFolder:
    """An object folder: images/ + masks/<stem>_<k>.png (see the module docstring)."""

    layout = LAYOUT_OBJECTS

    def __init__(self, images_dir: str | os.PathLike, masks_dir: str | os.PathLike | None = None,
                 name: str | None = None, val_percent: int = 10) -> None:
        self.images_dir = Path(images_dir)
        self.masks_dir = Path(masks_dir) if masks_dir is not None else self.images_dir.parent / "masks"
        for d, what in ((self.images_dir, "images"), (self.masks_dir, "masks")):
            if not d.is_dir():
                raise DatasetError(f"{d}: no such {what} folder.")
        self.root = self.images_dir.parent
        self.name = name or self.root.name
        self.val_percent = int(val_percent)
        self._images = {p.stem: p for p in list_images(self.images_dir)}
        if not self._images:
            raise DatasetError(f"{self.images_dir}: no images found (looked for {', '.join(IMAGE_SUFFIXES)}).")
        self._objects, instance_maps, self.orphans = scan_masks(self._images, self.masks_dir)
        if instance_maps and self._objects:
            raise DatasetError(
                f"{self.masks_dir}: ambiguous layout: {len(instance_maps)} mask(s) named like an image "
                f"(instance maps, e.g. {instance_maps[0]}.png) and {len(self._objects)} image(s) with "
                "per-object masks (<stem>_<k>.png). Keep one kind per folder.")
        if not self._objects:
            raise DatasetError(f"{self.masks_dir}: no per-object masks (<stem>_<k>.png) for the images in "
                               f"{self.images_dir}.")

    def __repr__(self) -> str:
        return f"ObjectFolder({str(self.images_dir)!r}, {str(self.masks_dir)!r})"

    def describe(self) -> str:
        """One line for logs: layout, counts."""
        n = sum(len(v) for v in self._objects.values())
        extra = f", {len(self.orphans)} mask(s) without an image ignored" if self.orphans else ""
        return f"{self.root}: {self.layout}: {len(self._objects)} images, {n} objects{extra}"

    def image_ids(self, split: str | None = "all") -> list[str]:
        """Sorted stems of the images that have objects, in `split` (all | train | val)."""
        ids = sorted(self._objects)
        if split in (None, "all", ""):
            return ids
        if split not in SPLITS:
            raise DatasetError(f"{self.root}: unknown split {split!r} (an object folder has "
                               f"{', '.join(SPLITS)}; val = a fixed {self.val_percent} % of the images).")
        want_val = split == "val"
        return [i for i in ids if in_val_split(i, self.val_percent) == want_val]

    def object_ids(self, image_id: str) -> list[int]:
        """The mask indices k of an image."""
        return list(self._objects.get(image_id, []))

    def image_path(self, image_id: str) -> Path:
        try:
            return self._images[image_id]
        except KeyError:
            raise DatasetError(f"{self.images_dir}: no image named {image_id!r}.") from None

    def mask_path(self, image_id: str, k: int) -> Path:
        return self.masks_dir / f"{image_id}_{k}.png"

    def check(self, image_id: str) -> None:
        """DatasetError if the image or one of its masks is missing (no decoding)."""
        self.image_path(image_id)
        for k in self.object_ids(image_id):
            if not self.mask_path(image_id, k).is_file():
                raise DatasetError(f"{self.mask_path(image_id, k)}: missing mask.")

    def read_mask(self, image_id: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(object, ignore) bool masks of object k; DatasetError for values other than 0/128/255."""
        path = self.mask_path(image_id, k)
        m = read_index_png(path)
        if m.ndim != 2:
            raise DatasetError(f"{path}: expected a single-channel mask.")
        return m > IGNORE_VALUE, m == IGNORE_VALUE

    def load_rgb(self, image_id: str) -> np.ndarray:
        return read_image(self.image_path(image_id))

    def load_masks(self, image_id: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Every object of an image as (k, object mask, ignore mask)."""
        out = [(k, *self.read_mask(image_id, k)) for k in self.object_ids(image_id)]
        return out

    def load_object(self, image_id: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rgb, labels) for training on object k: 1 = the object, 2.. = other objects, 255 = ignore (a 128
        pixel of any of the image's masks that is not part of object k)."""
        rgb = self.load_rgb(image_id)
        masks = self.load_masks(image_id)
        h, w = rgb.shape[:2]
        labels = np.zeros((h, w), np.uint8)
        label = 2
        for kk, obj, _ in masks:
            if obj.shape != (h, w):
                raise DatasetError(f"{self.mask_path(image_id, kk)}: mask is {obj.shape[1]}x{obj.shape[0]} but "
                                   f"the image is {w}x{h}; the mask must have the image's size.")
            if kk != k and label < VOID_LABEL:
                labels[obj] = label
                label += 1
        target = next(obj for kk, obj, _ in masks if kk == k)
        # 128 marks pixels the source left unlabelled (void, crowd): unknown for every object of the image
        unknown = np.logical_or.reduce([ign for _, _, ign in masks])
        labels[target] = TARGET_LABEL
        labels[unknown & ~target] = VOID_LABEL
        return rgb, labels


def usable(obj: np.ndarray, ignore: np.ndarray, min_area: int, margin: float) -> bool:
    """True when the object is large enough and a click fits at least `margin` px inside it."""
    if int(obj.sum()) < min_area:
        return False
    inside = cv2.distanceTransform(np.pad(obj, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return bool(((inside[1:-1, 1:-1] >= max(margin, 1)) & ~ignore).any())


def detect_layout(path: str | os.PathLike) -> str:
    """Which layout a data folder has (LAYOUT_*); DatasetError for ambiguous or unknown folders."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder.")
    voc = [b for b in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012")
           if (b / "JPEGImages").is_dir() or (b / "SegmentationObject").is_dir()]
    has_objects = (root / "images").is_dir() and (root / "masks").is_dir()
    subs = [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "images").is_dir() and (d / "masks").is_dir()]
    found = [name for name, ok in ((LAYOUT_VOC, bool(voc)), ("images/ + masks/", has_objects),
                                   (LAYOUT_COLLECTION, bool(subs))) if ok]
    if len(found) > 1:
        raise DatasetError(f"{root}: ambiguous data folder: it looks like both {found[0]} and {found[1]}. "
                           "Point at one of them.")
    if voc:
        return LAYOUT_VOC
    if subs:
        return LAYOUT_COLLECTION
    if has_objects:
        images = {p.stem: p for p in list_images(root / "images")}
        per_object, instance_maps, _ = scan_masks(images, root / "masks")
        if per_object and instance_maps:
            raise DatasetError(
                f"{root / 'masks'}: ambiguous layout: masks named like an image (instance maps, e.g. "
                f"{instance_maps[0]}.png) and per-object masks (<stem>_<k>.png) side by side.")
        if per_object:
            return LAYOUT_OBJECTS
        if instance_maps:
            return LAYOUT_INSTANCES
        raise DatasetError(f"{root / 'masks'}: no mask matches an image in {root / 'images'} "
                           "(expected <stem>_<k>.png per object or <stem>.png instance maps).")
    raise DatasetError(
        f"{root}: unknown data layout. Expected a VOC devkit (JPEGImages/, SegmentationObject/), an object "
        "folder (images/ + masks/<stem>_<k>.png), or a folder of such object folders.")


def parse_weighted(spec: str) -> tuple[str, float]:
    """'PATH' or 'PATH:WEIGHT' → (path, weight); the weight must be a positive number."""
    head, sep, tail = spec.rpartition(":")
    if sep and head:
        try:
            w = float(tail)
        except ValueError:
            return spec, 1.0
        if not np.isfinite(w) or w <= 0:
            raise DatasetError(f"{spec}: a source weight must be a positive number, got {tail!r}.")
        return head, w
    return spec, 1.0


def open_object_sources(specs: list[str]) -> list[tuple[ObjectFolder, float]]:
    """Object folders with sampling weights from `--data` values (a collection expands to its sources)."""
    out: list[tuple[ObjectFolder, float]] = []
    for spec in specs:
        path, weight = parse_weighted(spec)
        layout = detect_layout(path)
        if layout == LAYOUT_OBJECTS:
            out.append((ObjectFolder(Path(path) / "images"), weight))
        elif layout == LAYOUT_COLLECTION:
            for d in sorted(Path(path).iterdir()):
                if (d / "images").is_dir() and (d / "masks").is_dir():
                    out.append((ObjectFolder(d / "images"), weight))
        else:
            raise DatasetError(f"{path}: --data takes object folders (images/ + masks/<stem>_<k>.png) or a "
                               f"folder of them; this is a {layout} (use --voc-root for a devkit).")
    names = [f.name for f, _ in out]
    if len(set(names)) != len(names):
        raise DatasetError(f"two sources share a name ({', '.join(sorted(names))}); rename one folder.")
    return out
