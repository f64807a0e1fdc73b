"""Reading PASCAL VOC style segmentation data: a VOC devkit, or a folder of images plus instance masks.

Both sources share one interface: ``image_ids(split)``, ``load(image_id) -> VOCSample`` and
``load_objects(image_id)`` (the instance mask alone, without decoding the image). Instance masks hold
0 = background, 1..N = objects, 255 = void (ignored in losses and IoU).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import DatasetError, ImageReadError
from models.fileio import IMAGE_SUFFIXES, list_images, read_image, read_index_png

VOID = 255

#: Errors that make one image unusable; callers skip the image and count it.
SAMPLE_ERRORS = (DatasetError, ImageReadError)

_REQUIRED = ("JPEGImages", "SegmentationObject", os.path.join("ImageSets", "Segmentation"))


@dataclass
class VOCSample:
    """One image with its instance mask and (for VOC) class mask, both uint8 HxW, 255 = void."""

    image_id: str
    rgb: np.ndarray
    objects: np.ndarray
    classes: np.ndarray | None = None

    @property
    def void(self) -> np.ndarray:
        """Bool HxW mask of the void (255) pixels."""
        return self.objects == VOID


def instances(objects: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The objects of an instance mask as (instance_id, bool mask), background and void excluded."""
    ids = np.unique(objects)
    return [(int(i), objects == i) for i in ids if i != 0 and i != VOID]


def _check_shapes(image_id: str, rgb: np.ndarray, mask: np.ndarray, mask_path: Path) -> None:
    if rgb.shape[:2] != mask.shape:
        raise DatasetError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but image {image_id!r} is "
            f"{rgb.shape[1]}x{rgb.shape[0]}; the mask must have the image's size.")


class VOCDevkit:
    """A PASCAL VOC 2012 devkit (or any folder with the same layout)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = self.find_base(Path(root))

    @staticmethod
    def find_base(root: Path) -> Path:
        """The folder that directly holds JPEGImages/, SegmentationObject/, ImageSets/."""
        if not root.exists():
            raise DatasetError(f"{root}: no such folder (expected a VOC devkit, e.g. VOCdevkit/).")
        for base in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
            if (base / "JPEGImages").is_dir() or (base / "SegmentationObject").is_dir():
                missing = [d for d in _REQUIRED if not (base / d).is_dir()]
                if missing:
                    raise DatasetError(
                        f"{base}: incomplete VOC devkit, missing {', '.join(missing)}.")
                return base
        raise DatasetError(
            f"{root}: not a VOC devkit. Expected JPEGImages/, SegmentationObject/ and "
            "ImageSets/Segmentation/ in it, in VOC2012/ or in VOCdevkit/VOC2012/.")

    def __repr__(self) -> str:
        return f"VOCDevkit({str(self.root)!r})"

    def split_file(self, split: str) -> Path:
        """Path of ImageSets/Segmentation/<split>.txt."""
        return self.root / "ImageSets" / "Segmentation" / f"{split}.txt"

    def image_ids(self, split: str) -> list[str]:
        """Image ids listed in the split file, in file order."""
        path = self.split_file(split)
        if not path.is_file():
            have = sorted(p.stem for p in path.parent.glob("*.txt"))
            raise DatasetError(f"{path}: no such split file (available splits: {', '.join(have) or 'none'}).")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DatasetError(f"{path}: cannot read the split file ({e}).") from None
        ids = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            image_id = line.split()[0]
            if image_id in (".", "..") or any(ch in image_id for ch in ("/", "\\", "\0")):
                raise DatasetError(f"{path}, line {n}: {image_id!r} is not an image id (a file name without "
                                   "folders); refusing the split file.")
            ids.append(image_id)
        return ids

    def image_path(self, image_id: str) -> Path:
        """Path of the image (JPEGImages/<id>.jpg)."""
        return self.root / "JPEGImages" / f"{image_id}.jpg"

    def object_path(self, image_id: str) -> Path:
        """Path of the instance mask (SegmentationObject/<id>.png)."""
        return self.root / "SegmentationObject" / f"{image_id}.png"

    def class_path(self, image_id: str) -> Path:
        """Path of the class mask (SegmentationClass/<id>.png)."""
        return self.root / "SegmentationClass" / f"{image_id}.png"

    def check(self, image_id: str) -> None:
        """Raise DatasetError if the image or its instance mask file is missing (no decoding)."""
        for p, what in ((self.image_path(image_id), "image"), (self.object_path(image_id), "instance mask")):
            if not p.is_file():
                raise DatasetError(f"{p}: missing {what} for image {image_id!r}.")

    def load_objects(self, image_id: str) -> np.ndarray:
        """The instance mask of an image, uint8 HxW (ImageReadError/DatasetError naming the file)."""
        path = self.object_path(image_id)
        if not path.is_file():
            raise DatasetError(f"{path}: missing instance mask for image {image_id!r}.")
        return read_index_png(path)

    def load(self, image_id: str) -> VOCSample:
        """Image, instance mask and class mask (None if SegmentationClass/ lacks it)."""
        img_path = self.image_path(image_id)
        if not img_path.is_file():
            raise DatasetError(f"{img_path}: missing image {image_id!r}.")
        objects = self.load_objects(image_id)
        rgb = read_image(img_path)
        _check_shapes(image_id, rgb, objects, self.object_path(image_id))
        cpath = self.class_path(image_id)
        classes = read_index_png(cpath) if cpath.is_file() else None
        if classes is not None and classes.shape != objects.shape:
            raise DatasetError(f"{cpath}: class mask size differs from the instance mask's.")
        return VOCSample(image_id, rgb, objects, classes)


class FolderDataset:
    """Images in one folder, instance-index PNGs (same stem) in another; same interface as VOCDevkit."""

    def __init__(self, images_dir: str | os.PathLike, masks_dir: str | os.PathLike) -> None:
        self.images_dir = Path(images_dir)
        self.masks_dir = Path(masks_dir)
        for d, what in ((self.images_dir, "images"), (self.masks_dir, "masks")):
            if not d.is_dir():
                raise DatasetError(f"{d}: no such {what} folder.")
        self._images = {p.stem: p for p in list_images(self.images_dir)}
        if not self._images:
            raise DatasetError(
                f"{self.images_dir}: no images found (looked for {', '.join(IMAGE_SUFFIXES)}).")

    def __repr__(self) -> str:
        return f"FolderDataset({str(self.images_dir)!r}, {str(self.masks_dir)!r})"

    def image_ids(self, split: str | None = None) -> list[str]:
        """Stems of all images in the folder, sorted (the split is ignored)."""
        return sorted(self._images)

    def image_path(self, image_id: str) -> Path:
        """Path of the image with this stem."""
        try:
            return self._images[image_id]
        except KeyError:
            raise DatasetError(f"{self.images_dir}: no image named {image_id!r}.") from None

    def object_path(self, image_id: str) -> Path:
        """Path of the instance mask (<masks_dir>/<stem>.png)."""
        return self.masks_dir / f"{image_id}.png"

    def check(self, image_id: str) -> None:
        """Raise DatasetError if the image or its mask file is missing (no decoding)."""
        self.image_path(image_id)
        self.load_objects_path(image_id)

    def load_objects_path(self, image_id: str) -> Path:
        """The mask path, DatasetError naming the image when the mask does not exist."""
        path = self.object_path(image_id)
        if not path.is_file():
            raise DatasetError(
                f"{self.image_path(image_id)}: no mask for this image (expected {path}).")
        return path

    def load_objects(self, image_id: str) -> np.ndarray:
        """The instance mask of an image, uint8 HxW."""
        return read_index_png(self.load_objects_path(image_id))

    def load(self, image_id: str) -> VOCSample:
        """Image and instance mask (no class mask)."""
        objects = self.load_objects(image_id)
        rgb = read_image(self.image_path(image_id))
        _check_shapes(image_id, rgb, objects, self.object_path(image_id))
        return VOCSample(image_id, rgb, objects, None)


Source = VOCDevkit | FolderDataset


def open_source(root: str | os.PathLike | Source) -> Source:
    """A VOCDevkit for a path, or the source itself if already opened."""
    if isinstance(root, (VOCDevkit, FolderDataset)):
        return root
    return VOCDevkit(root)
