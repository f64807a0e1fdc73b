"""Which images a checkpoint was trained on, and whether a benchmark would measure it on them (Qt-free).

An image is named by (its source folder, its id). A devkit built by `ifcn devkit` records the annotated
folder in its devkit.json, so a run's training images and the output folder's annotated images get the
same names; any other VOC devkit names its images by its own folder. A checkpoint's training data is in
its metadata (training.data, training.train_split), and a fine-tuned one also saw what its
training.init_checkpoint saw, followed back through the chain.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from models.checkpoint import read_meta
from models.errors import IFCNError

ImageKey = tuple[str, str]  # (resolved source folder, image id)
MARKER = "devkit.json"      # what `ifcn devkit` writes into the devkits it builds
MAX_CHAIN = 8               # init_checkpoint links followed at most
# (checkpoint, mtime) -> (the images its own training used, the checkpoint it was fine-tuned from)
_CACHE: dict[tuple[str, int], tuple[frozenset[ImageKey], str | None]] = {}


def _folder(p: str | os.PathLike) -> str:
    return str(Path(p).expanduser().resolve())


def _devkit_base(root: Path) -> Path | None:
    for base in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (base / "ImageSets" / "Segmentation").is_dir():
            return base
    return None


def devkit_images(root: str | os.PathLike, split: str) -> set[ImageKey]:
    """The images of a VOC devkit's split (empty when it is not one or cannot be read)."""
    base = _devkit_base(Path(root).expanduser())
    if base is None:
        return set()
    try:
        ids = [s.strip() for s in (base / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()]
    except (OSError, UnicodeDecodeError):
        return set()
    source = _folder(base)
    try:
        source = _folder(json.loads((base / MARKER).read_text())["annotations"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not one of ours: its images are its own
    return {(source, i) for i in ids if i}


def folder_images(folder: str | os.PathLike, stems: Iterable[str]) -> set[ImageKey]:
    """Images `stems` of an annotated (or benchmark) folder."""
    source = _folder(folder)
    return {(source, s) for s in stems}


def benchmark_folder_images(folder: str | os.PathLike) -> set[ImageKey]:
    """The images of a benchmark folder (images/ + masks/)."""
    images = Path(folder).expanduser() / "images"
    return folder_images(folder, (p.stem for p in images.iterdir() if p.is_file())) if images.is_dir() else set()


def _data_images(training: dict[str, Any]) -> set[ImageKey]:
    keys: set[ImageKey] = set()
    split = str(training.get("train_split") or "train")
    for entry in str(training.get("data") or "").split(","):
        path = Path(entry.rsplit(":", 1)[0] if ":" in entry and not Path(entry).exists() else entry)
        if not entry or not path.is_dir():
            continue
        keys |= devkit_images(path, split) or benchmark_folder_images(path)
    return keys


def trained_images(checkpoint: str | os.PathLike | None) -> frozenset[ImageKey]:
    """Every image `checkpoint` (and the checkpoints it was fine-tuned from) was trained on, as far as
    their metadata and the folders it names still tell; empty for GrabCut or an unreadable file."""
    keys: set[ImageKey] = set()
    seen: set[str] = set()
    path = checkpoint
    for _ in range(MAX_CHAIN):
        if path is None or str(path) == "grabcut" or not Path(path).is_file() or str(path) in seen:
            break
        seen.add(str(path))
        key = (_folder(path), Path(path).stat().st_mtime_ns)
        if key not in _CACHE:
            try:
                training = dict(read_meta(path).get("training") or {})
            except (IFCNError, OSError):
                training = {}
            _CACHE[key] = (frozenset(_data_images(training)), training.get("init_checkpoint") or None)
        own, path = _CACHE[key]
        keys |= own
    return frozenset(keys)


def overlap_warning(model: str, trained: Iterable[ImageKey], measured: set[ImageKey]) -> str:
    """A warning when `model` learned from some of the `measured` images ('' otherwise)."""
    n = len(measured.intersection(trained))
    if not n:
        return ""
    return (f"{model} was trained on {n} of these {len(measured)} image{'s' * (len(measured) != 1)}: "
            "its NoC on them is optimistic. Measure on the held-out images of its retraining run (or on "
            "images it never saw) to know how it does on new ones.")
