"""The annotator's saved annotations as a VOC devkit (`ifcn devkit`), for retraining and benchmarking.

The annotator writes, for an image `<stem>.<ext>` and its output folder `OUT`:
`OUT/SegmentationObject/<stem>.png` (instance indices of the *finished* objects; unfinished clicks live
only in the sidecar), `OUT/SegmentationClass/<stem>.png` and the sidecar `OUT/annotations/<stem>.json`
(whose ``"image"`` key names the image file). The PNGs are plain VOC palette PNGs, so a devkit is built
by hardlinking (or copying) them next to the images, with a seeded, per-image held-out share as the
``val`` split. Images that are not JPEG are re-encoded as JPEG (quality 95), because a VOC devkit names
every image ``JPEGImages/<id>.jpg``; so are JPEGs with an EXIF orientation other than upright, rotated as
the annotator showed them, so that every image has the pixels and the size of its masks for any reader.

With ``--progress-json`` stdout carries JSON lines (format of `training.progress`): ``devkit`` (the
summary: ``images``, ``objects``, ``usable_objects``, ``train_images``, ``train_objects``,
``val_images``, ``val_objects``, ``extra_images``, ``skipped``, ``out``), then, with ``--evaluate``,
``baseline`` (``val_iou`` of that checkpoint on the held-out split, measured exactly like
`ifcn train` validates with the same ``--seed`` and ``--crop-size``, and ``objects``), then ``end``;
or ``error`` with a ``message``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import DatasetError, IFCNError, ImageReadError
from models.fileio import (IMAGE_SUFFIXES, atomic_write_bytes, atomic_write_text, exif_orientation, read_image,
                           read_index_png)
from training.progress import ProgressWriter
from training.sampling import SamplingConfig
from training.voc import VOID, VOCDevkit

OBJECT_DIR = "SegmentationObject"
CLASS_DIR = "SegmentationClass"
SIDECAR_DIR = "annotations"
MARKER = "devkit.json"  # written into every devkit this module builds; lets a rebuild replace it
DEFAULT_MIN_OBJECTS = 10
JPEG_QUALITY = 95


@dataclass
class AnnotatedImage:
    """One annotated image: its files and how many finished objects its instance mask holds."""

    stem: str
    image: Path
    object_png: Path
    class_png: Path | None
    objects: int
    usable: int  # objects large enough for training (>= the sampling's min_area)


@dataclass
class DevkitSummary:
    """What `build_devkit` found and wrote."""

    out: str
    annotations: str
    images_dir: str
    images: int = 0
    objects: int = 0
    usable_objects: int = 0
    train_images: int = 0
    train_objects: int = 0
    val_images: int = 0
    val_objects: int = 0
    extra_images: int = 0
    holdout: float = 0.0
    seed: int = 0
    linked: int = 0
    copied: int = 0
    converted: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    def text(self) -> str:
        """A few human-readable lines."""
        lines = [f"annotations: {self.annotations} (images in {self.images_dir})",
                 f"  annotated images: {self.images}, finished objects: {self.objects} "
                 f"({self.usable_objects} large enough for training)",
                 f"  train: {self.train_images} images, {self.train_objects} objects; held out (val): "
                 f"{self.val_images} images, {self.val_objects} objects (share {self.holdout:g}, "
                 f"seed {self.seed})"]
        if self.extra_images:
            lines.append(f"  plus {self.extra_images} training images from the extra VOC devkit")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} image(s):")
            lines += [f"    {s['image']}: {s['reason']}" for s in self.skipped[:10]]
        lines.append(f"wrote {self.out} ({self.linked} hardlinked, {self.copied} copied, "
                     f"{self.converted} re-encoded as JPEG)")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- reading annotations

def default_images_dir(annotations_dir: str | os.PathLike) -> Path:
    """Where the annotated images are: OUT/JPEGImages for a VOC-style output folder, else OUT itself."""
    out = Path(annotations_dir)
    return out / "JPEGImages" if (out / "JPEGImages").is_dir() else out


def _image_for(stem: str, images_dir: Path, sidecar: Path) -> Path | None:
    """The image of an annotation: the sidecar's file name if it exists, else any image with that stem."""
    if sidecar.is_file():
        try:
            name = json.loads(sidecar.read_text(encoding="utf-8")).get("image")
        except (OSError, ValueError, AttributeError):
            name = None
        if isinstance(name, str) and name and Path(name).name == name and (images_dir / name).is_file():
            return images_dir / name
    for suffix in IMAGE_SUFFIXES:
        for cand in (images_dir / f"{stem}{suffix}", images_dir / f"{stem}{suffix.upper()}"):
            if cand.is_file():
                return cand
    return None


def find_annotations(annotations_dir: str | os.PathLike, images_dir: str | os.PathLike | None = None,
                     min_area: int | None = None, void_only: bool = False
                     ) -> tuple[list[AnnotatedImage], list[dict[str, str]]]:
    """Annotated images under `annotations_dir` (sorted by stem) and the ones skipped, with reasons; with
    `void_only`, also images whose masks hold only VOC void (an ignore region and no object)."""
    out = Path(annotations_dir)
    if not out.is_dir():
        raise DatasetError(f"{out}: no such annotation folder.")
    images_dir = Path(images_dir) if images_dir is not None else default_images_dir(out)
    if not images_dir.is_dir():
        raise DatasetError(f"{images_dir}: no such image folder.")
    obj_dir = out / OBJECT_DIR
    if not obj_dir.is_dir():
        raise DatasetError(f"{out}: no annotations here (no {OBJECT_DIR}/ folder). Annotate some images "
                           "and save them first (the annotator writes SegmentationObject/<image>.png).")
    min_area = SamplingConfig().min_area if min_area is None else int(min_area)
    found: list[AnnotatedImage] = []
    skipped: list[dict[str, str]] = []
    for png in sorted(obj_dir.glob("*.png")):
        stem = png.stem
        image = _image_for(stem, images_dir, out / SIDECAR_DIR / f"{stem}.json")
        if image is None:
            skipped.append({"image": stem, "reason": f"no image named {stem}.* in {images_dir}"})
            continue
        try:
            objects = read_index_png(png)
        except ImageReadError as e:
            skipped.append({"image": stem, "reason": str(e)})
            continue
        ids, counts = np.unique(objects, return_counts=True)
        keep = (ids != 0) & (ids != VOID)
        n, usable = int(keep.sum()), int((counts[keep] >= min_area).sum())
        if n == 0 and not (void_only and (ids == VOID).any()):
            continue  # opened or started, but no finished object
        cls = out / CLASS_DIR / f"{stem}.png"
        found.append(AnnotatedImage(stem, image, png, cls if cls.is_file() else None, n, usable))
    return found, skipped


def split_holdout(stems: list[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded per-image split into (train, val): round(share * n) images held out, at least one of each
    kind when 0 < share < 1 and there are two images or more."""
    if not 0.0 <= share <= 1.0:
        raise IFCNError(f"--holdout must be between 0 and 1, got {share}.")
    stems = sorted(stems)
    n = len(stems)
    n_val = int(round(share * n))
    if 0.0 < share < 1.0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    val = sorted(stems[i] for i in order[:n_val])
    held = set(val)
    return [s for s in stems if s not in held], val


# ----------------------------------------------------------------------------- writing the devkit

def _place(src: Path, dst: Path, link: bool, summary: DevkitSummary) -> None:
    """Hardlink `src` to `dst` (copy when linking is impossible or not wanted)."""
    dst.unlink(missing_ok=True)
    if link:
        try:
            os.link(src, dst)
            summary.linked += 1
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)
    summary.copied += 1


def _place_image(src: Path, dst: Path, link: bool, summary: DevkitSummary) -> None:
    """The image as JPEGImages/<id>.jpg: linked when it already is an upright JPEG, else re-encoded with
    its EXIF orientation applied (the pixels, and the size, its masks were drawn on: read_image's)."""
    if src.suffix.lower() in (".jpg", ".jpeg") and exif_orientation(src) == 1:
        _place(src, dst, link, summary)
        return
    import cv2

    rgb = read_image(src)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ImageReadError(f"{src}: could not re-encode the image as JPEG.")
    atomic_write_bytes(dst, buf.tobytes())
    summary.converted += 1


def _refuse_overlap(out: Path, inputs: list[tuple[str, Path]]) -> None:
    """IFCNError when `out` is one of the input folders or holds one: rebuilding it would delete them.

    An --out inside an input is fine (the annotator's retraining writes OUT/training-runs/<run>/devkit)."""
    o = out.expanduser().resolve()
    for option, path in inputs:
        p = Path(path).expanduser().resolve()
        if p.is_relative_to(o):
            raise IFCNError(f"--out {out} overlaps {option} {path}: the devkit is rebuilt from scratch there, "
                            "which would delete the inputs. Choose a separate --out folder.")


#: What a build writes into the devkit folder; anything else there is the user's and is kept.
DEVKIT_ENTRIES = ("JPEGImages", OBJECT_DIR, CLASS_DIR, "ImageSets", MARKER)


def _prepare_out(out: Path) -> Path:
    """A new, empty staging folder beside `out` to build in; refuses an `out` that is not a folder or holds
    something other than a devkit this module built. Nothing at `out` is touched (see _swap_in)."""
    if out.exists() and not out.is_dir():
        raise IFCNError(f"{out}: exists and is not a folder; choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise IFCNError(f"{out}: the folder is not empty and was not made by `ifcn devkit`; "
                        "choose an empty or new --out folder.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.building-{os.getpid()}-{os.urandom(4).hex()}"
    staging.mkdir()  # the usual permissions (a mkdtemp folder would be 0700)
    for sub in ("JPEGImages", OBJECT_DIR, CLASS_DIR, os.path.join("ImageSets", "Segmentation")):
        (staging / sub).mkdir(parents=True, exist_ok=True)
    return staging


def _swap_in(staging: Path, out: Path) -> None:
    """Put the complete devkit built at `staging` at `out`; only then delete the previous one (keeping
    any file of the user's that lay beside it)."""
    if not out.is_dir():
        os.rename(staging, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}-{os.urandom(4).hex()}"
    os.rename(out, old)
    os.rename(staging, out)
    for p in old.iterdir():
        if p.name not in DEVKIT_ENTRIES:
            os.rename(p, out / p.name)
    shutil.rmtree(old, ignore_errors=True)


def build_devkit(annotations_dir: str | os.PathLike, out: str | os.PathLike, *,
                 images_dir: str | os.PathLike | None = None, holdout: float = 0.2, seed: int = 0,
                 min_objects: int = DEFAULT_MIN_OBJECTS, voc_root: str | os.PathLike | None = None,
                 link: bool = True) -> DevkitSummary:
    """Write a VOC-layout devkit at `out` from the annotations (train/val = seeded per-image split).

    `voc_root` adds the train split of another VOC devkit to the training images. Raises IFCNError
    (before writing anything) when fewer than `min_objects` usable objects are annotated.
    """
    annotations_dir = Path(annotations_dir)
    images_dir = Path(images_dir) if images_dir is not None else default_images_dir(annotations_dir)
    found, skipped = find_annotations(annotations_dir, images_dir)
    summary = DevkitSummary(out=str(out), annotations=str(annotations_dir), images_dir=str(images_dir),
                            holdout=float(holdout), seed=int(seed), skipped=skipped)
    summary.images = len(found)
    summary.objects = sum(a.objects for a in found)
    summary.usable_objects = sum(a.usable for a in found)
    if summary.usable_objects < min_objects:
        raise DatasetError(
            f"{annotations_dir}: only {summary.usable_objects} annotated object(s) large enough for "
            f"training ({summary.objects} finished in {summary.images} image(s)); at least {min_objects} "
            "are needed. Annotate and finish more objects (Space), save, and try again.")
    _refuse_overlap(Path(out), [("--annotations", annotations_dir), ("--images", images_dir)]
                    + ([("--voc-root", Path(voc_root))] if voc_root is not None else []))
    extra = VOCDevkit(voc_root) if voc_root is not None else None
    extra_ids = extra.image_ids("train") if extra is not None else []
    train, val = split_holdout([a.stem for a in found], holdout, seed)
    by_stem = {a.stem: a for a in found}
    final = Path(out)
    staging = _prepare_out(final)  # built beside, swapped in when complete: nothing deleted first
    try:
        _write_devkit(staging, train, val, by_stem, extra, extra_ids, link, summary)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_in(staging, final)
    return summary


def _write_devkit(out: Path, train: list[str], val: list[str], by_stem: dict[str, AnnotatedImage],
                  extra: VOCDevkit | None, extra_ids: list[str], link: bool, summary: DevkitSummary) -> None:
    """Write the devkit's images, masks, split files and marker into the (staging) folder `out`."""
    written_train: list[str] = []
    written_val: list[str] = []
    for names, written in ((train, written_train), (val, written_val)):
        for stem in names:
            a = by_stem[stem]
            try:
                _place_image(a.image, out / "JPEGImages" / f"{stem}.jpg", link, summary)
            except ImageReadError as e:
                summary.skipped.append({"image": stem, "reason": str(e)})
                continue
            _place(a.object_png, out / OBJECT_DIR / f"{stem}.png", link, summary)
            if a.class_png is not None:
                _place(a.class_png, out / CLASS_DIR / f"{stem}.png", link, summary)
            written.append(stem)
    summary.train_images, summary.val_images = len(written_train), len(written_val)
    summary.train_objects = sum(by_stem[s].objects for s in written_train)
    summary.val_objects = sum(by_stem[s].objects for s in written_val)
    taken = set(written_train) | set(written_val)
    for image_id in extra_ids:
        try:
            extra.check(image_id)
        except DatasetError as e:
            summary.skipped.append({"image": image_id, "reason": str(e)})
            continue
        new_id = image_id if image_id not in taken else f"extra_{image_id}"
        _place_image(extra.image_path(image_id), out / "JPEGImages" / f"{new_id}.jpg", link, summary)
        _place(extra.object_path(image_id), out / OBJECT_DIR / f"{new_id}.png", link, summary)
        if extra.class_path(image_id).is_file():
            _place(extra.class_path(image_id), out / CLASS_DIR / f"{new_id}.png", link, summary)
        written_train.append(new_id)
        taken.add(new_id)
        summary.extra_images += 1
    sets = out / "ImageSets" / "Segmentation"
    for name, ids in (("train", written_train), ("val", written_val), ("trainval", written_train + written_val)):
        atomic_write_text(sets / f"{name}.txt", "".join(f"{i}\n" for i in ids))
    atomic_write_text(out / MARKER, json.dumps(summary.to_dict(), indent=2) + "\n")


# ----------------------------------------------------------------------------- "before" IoU

def baseline_val_iou(devkit: str | os.PathLike, checkpoint: str | os.PathLike, *, crop_size: int = 320,
                     seed: int = 0, batch_size: int = 8, device: str = "auto",
                     val_limit: int | None = None) -> tuple[float | None, int]:
    """(mean IoU, objects) of `checkpoint` on the devkit's val split, validated as `ifcn train` does
    with the same seed and crop size (so it is the "before" of a fine-tuning run)."""
    import torch
    from torch.utils.data import DataLoader, Subset

    from models.checkpoint import load_checkpoint
    from models.device import resolve_device
    from training.datasets import make_dataset
    from training.train import validate

    loaded = load_checkpoint(checkpoint, map_location="cpu")
    dev = resolve_device(device)
    try:
        # `ifcn train` validates on random-mode clicks drawn with seed + 1, no augmentation
        ds = make_dataset(devkit, "val", "random", loaded.spec, crop_size=crop_size, augment=False,
                          seed=seed + 1)
    except DatasetError:
        return None, 0
    if val_limit is not None:
        ds = Subset(ds, range(min(val_limit, len(ds))))
    model = loaded.model.to(dev)
    channels_last = dev.type in ("cuda", "cpu")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    total, count = validate(model, DataLoader(ds, batch_size=batch_size, shuffle=False), dev,
                            channels_last=channels_last)
    return (total / count if count else None), int(count)


# ----------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn devkit`."""
    a = parser.add_argument
    a("--annotations", required=True, help="the annotator's output folder (SegmentationObject/ etc.)")
    a("--images", help="folder of the annotated images (default: ANNOTATIONS/JPEGImages if it exists, "
                       "else ANNOTATIONS)")
    a("--out", required=True, help="devkit folder to write (new, empty, or made by ifcn devkit before)")
    a("--holdout", type=float, default=0.2, help="share of the annotated images held out as val (0.2)")
    a("--seed", type=int, default=0, help="seed of the held-out split (and of --evaluate's clicks)")
    a("--min-objects", type=int, default=DEFAULT_MIN_OBJECTS,
      help=f"refuse with fewer annotated objects than this (default {DEFAULT_MIN_OBJECTS})")
    a("--voc-root", help="also train on the train split of this VOC devkit")
    a("--copy", action="store_true", help="copy files instead of hardlinking them")
    a("--evaluate", metavar="CHECKPOINT",
      help="also measure this checkpoint's IoU on the held-out split (the 'before' of a retrain)")
    a("--crop-size", type=int, default=320, help="crop size for --evaluate (use the training's)")
    a("--batch-size", type=int, default=8, help="batch size for --evaluate")
    a("--device", default="auto", help="device for --evaluate: auto, cpu, cuda or mps")
    a("--progress-json", action="store_true", help="JSON lines on stdout (see the module docstring)")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn devkit`."""
    progress = ProgressWriter(enabled=bool(args.progress_json))
    human = sys.stderr if args.progress_json else sys.stdout
    try:
        summary = build_devkit(args.annotations, args.out, images_dir=args.images, holdout=args.holdout,
                               seed=args.seed, min_objects=args.min_objects, voc_root=args.voc_root,
                               link=not args.copy)
        print(summary.text(), file=human, flush=True)
        progress.emit("devkit", **summary.to_dict())
        if args.evaluate:
            value, count = baseline_val_iou(args.out, args.evaluate, crop_size=args.crop_size, seed=args.seed,
                                            batch_size=args.batch_size, device=args.device)
            progress.emit("baseline", checkpoint=str(args.evaluate), val_iou=value, objects=count)
            shown = f"{value:.4f}" if value is not None else "n/a (no usable held-out object)"
            print(f"{Path(args.evaluate).name}: held-out IoU {shown} over {count} object(s)", file=human)
    except IFCNError as e:
        progress.emit("error", message=str(e))
        raise
    progress.emit("end", status="completed")
    return 0
