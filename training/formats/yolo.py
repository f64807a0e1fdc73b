"""YOLO segmentation labels (Ultralytics YOLOv8/11 "-seg"): one txt per image plus `data.yaml`.

A line is ``<class> <x1> <y1> <x2> <y2> ...``: a 0-based class number (the position of the class in
`names`) and one polygon, its vertices normalised by the image width and height. Ultralytics reads a
polygon by multiplying back by the size, casting to int32 and filling it with `cv2.fillPoly`; the
vertices written are the centres of the mask's boundary pixels, (x + 0.5) / width, so that this cast
lands on the boundary pixel itself and the fill gives back exactly the mask with its holes filled.
An object of several parts is one line a part (YOLO has one polygon an instance). Ignore regions have
no YOLO form and are not written.
"""
from __future__ import annotations

import numpy as np

from training.formats import ImageAnnotation
from training.formats.polygons import centre_polygons, has_holes

DECIMALS = 6


def class_numbers(classes: dict[int, str]) -> dict[int, int]:
    """Class index -> YOLO class number (0, 1, ... in index order)."""
    return {index: k for k, index in enumerate(sorted(classes))}


def label_lines(img: ImageAnnotation, numbers: dict[int, int]) -> tuple[list[str], int]:
    """(lines of the image's label file, objects whose holes were filled)."""
    lines: list[str] = []
    filled = 0
    for obj in img.objects:
        if not obj.mask.any():
            continue
        filled += has_holes(obj.mask)
        for poly in centre_polygons(obj.mask):
            norm = (poly + 0.5) / np.array([img.width, img.height], dtype=np.float64)
            lines.append(" ".join([str(numbers[obj.class_index])] + [f"{v:.{DECIMALS}f}" for v in norm.ravel()]))
    return lines, filled


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def data_yaml(root: str, train: str, val: str, classes: dict[int, str]) -> str:
    """The text of Ultralytics' dataset file: root `path`, `train`/`val` image folders, `nc`, `names`."""
    names = [classes[i] for i in sorted(classes)]
    lines = ["# YOLO segmentation dataset written by ifcn convert (ifcn-annotator)",
             f"path: {_quote(root)}", f"train: {_quote(train)}", f"val: {_quote(val)}", f"nc: {len(names)}",
             "names:"]
    lines += [f"  {k}: {_quote(n)}" for k, n in enumerate(names)]
    return "\n".join(lines) + "\n"
