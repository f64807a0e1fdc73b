"""Other tools' annotation formats (COCO, labelme, YOLO-seg): the in-memory dataset they convert through.

`ifcn convert` (training/convert.py) reads the annotator's output folder into a `Dataset` and writes it in
one of these formats, or reads one of them into a `Dataset` and writes the annotator's own files. Masks
are boolean HxW arrays in image pixels; class indices are the annotator's (1..254, the values of
SegmentationClass PNGs). What each polygon format loses is written in docs/formats.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

#: The VOC "void" value: pixels excluded from training and scoring (ignore regions).
VOID = 255
#: Name given to ignore regions in formats that need a label for them (labelme's convention).
IGNORE_LABEL = "__ignore__"
#: labelme's name for the background class (a shape with it erases, as in labelme2voc).
BACKGROUND_LABEL = "_background_"

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)


@dataclass
class Instance:
    """One object: its class index and its mask (bool HxW)."""

    class_index: int
    mask: np.ndarray


@dataclass
class ImageAnnotation:
    """The objects of one image, in paint order (later objects cover earlier ones), and its ignore region."""

    image: Path
    height: int
    width: int
    objects: list[Instance] = field(default_factory=list)
    void: np.ndarray | None = None  # bool HxW: VOC 255 / COCO iscrowd / labelme __ignore__, or None


@dataclass
class Dataset:
    """Annotated images and the class table (index -> name) their objects use.

    With a `loader`, `images` are headers (file and size, no masks) and `loaded()` reads each image's
    objects when it is reached, so a conversion holds the masks of one image at a time.
    """

    classes: dict[int, str]
    images: list[ImageAnnotation] = field(default_factory=list)
    loader: Callable[[ImageAnnotation], ImageAnnotation] | None = None  # ValueError(reason) when unreadable
    skipped: list[dict[str, str]] = field(default_factory=list)

    def loaded(self) -> Iterator[ImageAnnotation]:
        """Each image with its objects, in order; one whose loading fails is left out (reason in `skipped`)."""
        for img in self.images:
            if self.loader is None:
                yield img
                continue
            try:
                full = self.loader(img)
            except ValueError as e:
                self.skipped.append({"image": img.image.name, "reason": str(e)})
                continue
            yield full


def default_class_name(index: int) -> str:
    """The name the annotator shows for a class index absent from every class table."""
    return VOC_CLASSES[index - 1] if 1 <= index <= len(VOC_CLASSES) else f"class {index}"
