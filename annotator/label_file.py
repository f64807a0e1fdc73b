"""The on-disk annotation format: VOC palette PNGs plus a versioned JSON sidecar.

For an image `<stem>.<ext>` and an output folder `OUT`:

- `OUT/SegmentationClass/<stem>.png`  – class indices (palette PNG, class colours, 0 = background)
- `OUT/SegmentationObject/<stem>.png` – instance indices 1, 2, … in object order (VOC palette PNG)
- `OUT/annotations/<stem>.json`       – the sidecar (schema below)

Sidecar (`format` = "ifcn-annotation", `version` = 1)::

    {"format": "ifcn-annotation", "version": 1, "image": "<file name>", "size": [width, height],
     "classes": [{"index": 15, "name": "person", "color": [192, 128, 128]}, ...],
     "objects": [{"instance": 1, "class": 15, "clicks": [[x, y, true], ...],
                  "strokes": [{"points": [[x, y], ...], "radius": 4.0, "erase": false}, ...],
                  "mask": {"rle": [n0, n1, ...]}}, ...],
     "void": null | {"rle": [n0, n1, ...]},
     "current": null | {"class": 15, "clicks": [...], "strokes": [...], "mask": {"rle": [...]}}}

`mask.rle` is the object's full mask (before later objects cover it) as alternating run lengths of
0s and 1s over the row-major flattened HxW image, starting with 0s. `void` (optional) is the image's
VOC void / ignore region in the same encoding (annotator.void_layer), written as 255 in both PNGs over
the objects. `current` is the unfinished object; its optional `mask` is its prediction + strokes as
last shown (absent while its prediction was pending), restored on reopening until the next click. In the
PNGs its pixels outside finished objects are 255 too: not labelled yet, so neither background nor an
object (training and NoC ignore them). The sidecar is the source of truth:
when present it restores every object exactly (clicks, strokes, mask, and the unfinished object);
the PNGs are derived from it (png_maps). Without a sidecar, existing VOC PNGs are imported as objects, their 255
as void (annotator.foreign_masks), and `LoadedAnnotation.foreign` lists the PNGs that the first save
must back up.
Write order is sidecar first, then the PNGs, each atomic, so a crash never leaves the sidecar older
than the PNGs. An image with only an unfinished object has no PNGs (an unfinished object is not a label;
no mask may call the image all background). The sidecar's `image` names its image: a sidecar that names
another image of the folder is refused, and of images sharing a stem (cat.jpg, cat.png) only one may be
annotated (stem_conflicts). A sidecar is read only when it is a regular file of at most
MAX_SIDECAR_BYTES, and the writer never writes a larger one; brush strokes are stored clipped to the image
(annotator.state.clip_stroke). The sidecar's JSON (RLE, document, validating reader) is annotator.sidecar.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from annotator import foreign_masks, void_layer
# The sidecar's JSON is read and written by annotator.sidecar; its public names stay importable from here.
from annotator.sidecar import (FORMAT, MAX_SIDECAR_BYTES, STROKE_LIMIT, VERSION, LoadedAnnotation,  # noqa: F401
                               file_error, read_json, read_sidecar, rle_decode, rle_encode, sidecar_image_name,
                               to_sidecar, unfinished_mask)
from annotator.state import AnnotationState, AnnotObject, compose, insert_at
from annotator.void_layer import VoidLayer, apply_void
from models.errors import AnnotationFileError, ImageReadError
from models.fileio import atomic_write_text, encode_index_png, read_index_png, voc_colormap
from models import fileio

CLASS_DIR = "SegmentationClass"
OBJECT_DIR = "SegmentationObject"
SIDECAR_DIR = "annotations"
VOID = 255


@dataclass(frozen=True)
class LabelPaths:
    """Where the annotation files of one image live."""

    class_png: Path
    object_png: Path
    sidecar: Path

    def existing(self) -> list[Path]:
        """The files of this annotation that exist on disk (none when a name is impossible)."""
        if self.too_long():
            return []
        return [p for p in (self.sidecar, self.class_png, self.object_png) if os.path.lexists(p)]

    def too_long(self) -> bool:
        """True when a file name is over the file system's limit (the image name is too long)."""
        return any(fileio.name_too_long(p.name) for p in (self.sidecar, self.class_png, self.object_png))


def output_dir_for(folder: str | os.PathLike) -> Path:
    """Default output folder: the image folder itself, or its parent for a VOC `JPEGImages/`."""
    folder = Path(folder)
    return folder.parent if folder.name == "JPEGImages" else folder


def paths_for(out_dir: str | os.PathLike, image_path: str | os.PathLike) -> LabelPaths:
    """The annotation file paths of `image_path` under `out_dir`."""
    out, stem = Path(out_dir), Path(image_path).stem
    return LabelPaths(out / CLASS_DIR / f"{stem}.png", out / OBJECT_DIR / f"{stem}.png",
                      out / SIDECAR_DIR / f"{stem}.json")


#: What the file list shows of an image (annotation_status).
NOT_ANNOTATED, UNFINISHED, ANNOTATED = "none", "unfinished", "annotated"


def annotation_status(out_dir: str | os.PathLike, image_path: str | os.PathLike) -> str:
    """UNFINISHED when the image's sidecar keeps an unfinished object, ANNOTATED when it has a saved
    annotation otherwise (sidecar or VOC masks), else NOT_ANNOTATED."""
    p = paths_for(out_dir, image_path)
    try:
        if p.too_long():
            return NOT_ANNOTATED
        if p.sidecar.is_file():
            return UNFINISHED if _has_unfinished(p.sidecar) else ANNOTATED
        return ANNOTATED if p.object_png.is_file() else NOT_ANNOTATED
    except OSError:
        return NOT_ANNOTATED


def _has_unfinished(sidecar: Path) -> bool:
    """True when the sidecar's `current` object is not null (the writer puts it last: its tail tells)."""
    try:
        with open(sidecar, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 64))
            if f.read().rstrip().endswith(b'"current":null}'):
                return False
        doc = read_json(sidecar)
    except (OSError, AnnotationFileError):
        return False
    return isinstance(doc, dict) and doc.get("current") is not None


def has_annotation(out_dir: str | os.PathLike, image_path: str | os.PathLike) -> bool:
    """True when the image has a sidecar or an object mask in `out_dir`."""
    p = paths_for(out_dir, image_path)
    try:
        return not p.too_long() and (p.sidecar.is_file() or p.object_png.is_file())
    except OSError:
        return False


def stem_conflicts(images: Sequence[Path], out_dir: str | os.PathLike) -> dict[Path, Path]:
    """Images that share their name stem with another one (cat.jpg, cat.png), which would share their
    annotation files: each such image that may not be annotated, mapped to the one that may.

    The one that may is the image its stem's sidecar names (its earlier work), else the first by name.
    """
    groups: dict[str, list[Path]] = {}
    for p in images:
        groups.setdefault(Path(p).stem, []).append(Path(p))
    blocked: dict[Path, Path] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda p: p.name)
        paths = paths_for(out_dir, group[0])
        named = None if paths.too_long() else sidecar_image_name(paths.sidecar)
        owner = next((p for p in group if p.name == named), group[0])
        blocked.update({p: owner for p in group if p != owner})
    return blocked


# ---- saving --------------------------------------------------------------------------------------


def png_maps(objects: Sequence[AnnotObject], void: VoidLayer, unfinished: np.ndarray | None,
             shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(class map, instance map) the PNGs hold: the finished objects, 255 on the void and on the
    unfinished object's pixels outside finished objects (not labelled yet: not background)."""
    cls, inst = apply_void(*compose(objects, shape), None if void.is_empty else void.mask(shape))
    if unfinished is not None:
        apply_void(cls, inst, unfinished & (inst == 0))
    return cls, inst


def save(out_dir: str | os.PathLike, image_path: str | os.PathLike, state: AnnotationState) -> LabelPaths:
    """Write the sidecar, then the class and object PNGs (each atomic). Raises OSError on disk trouble."""
    paths = paths_for(out_dir, image_path)
    if paths.too_long():
        stem = Path(image_path).stem
        raise AnnotationFileError(
            f"{Path(image_path).name}: the image's name is too long to save its annotation: "
            f"'{paths.sidecar.name[:20]}….json' would be {len(os.fsencode(paths.sidecar.name))} bytes, over the "
            f"file system's limit of {fileio.NAME_MAX}. Rename the image so that its name without the "
            f"extension has at most {fileio.NAME_MAX - len('.json')} bytes (now {len(os.fsencode(stem))}), "
            "then open it again.")
    cur = state.current
    if cur.base is not None and not cur.is_empty:
        # A resumed object is saved as finished, in its place, so nothing is lost: with its current mask,
        # or while its new click's prediction is pending, as it was before that click.
        mask = state.current_mask()
        done = replace(cur, mask=mask, base=None, base_clicks=None, slot=None)
        if mask is None:
            done = replace(done, mask=cur.base, clicks=cur.base_clicks or ())
        tmp = AnnotationState(state.shape, state.classes)
        tmp.void = state.void
        tmp.objects = insert_at(state.objects, done, cur.slot) if done.mask.any() else state.objects
        state = tmp
    doc = to_sidecar(state, Path(image_path).name)
    text = json.dumps(doc, separators=(",", ":"))  # ASCII: one byte a character
    if len(text) > MAX_SIDECAR_BYTES:  # what the reader would refuse is never written
        raise AnnotationFileError(
            f"{paths.sidecar}: the annotation is too large to save ({len(text) / 2**20:.0f} MB, the limit is "
            f"{MAX_SIDECAR_BYTES // 2**20} MB): delete or simplify some objects (speckled masks cost the most).")
    if not _pngs_expected(bool(state.objects), doc["current"] is not None):
        # Only an unfinished object: not a label yet. No PNG may say "all background"; stale ones go.
        atomic_write_text(paths.sidecar, text)
        for p in (paths.class_png, paths.object_png):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        return paths
    cls, inst = png_maps(state.objects, state.void, unfinished_mask(state), state.shape)
    class_bytes = encode_index_png(cls, state.classes.palette())
    object_bytes = encode_index_png(inst, voc_colormap())
    atomic_write_text(paths.sidecar, text)
    fileio.atomic_write_bytes(paths.class_png, class_bytes)
    fileio.atomic_write_bytes(paths.object_png, object_bytes)
    return paths


def _pngs_expected(has_objects: bool, has_unfinished: bool) -> bool:
    """Whether the VOC PNGs of a saved annotation exist: always, except with only an unfinished object."""
    return has_objects or not has_unfinished


def move_aside(paths: LabelPaths) -> list[Path]:
    """Rename existing (broken) annotation files to new `<name>.broken-<time>[-n]` names so they are kept."""
    return [fileio.move_to_backup(p, "broken") for p in paths.existing()]


# ---- loading -------------------------------------------------------------------------------------
def _read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        arr = read_index_png(path)
    except ImageReadError as e:
        raise AnnotationFileError(str(e)) from None
    if arr.shape != shape:
        raise file_error(path, f"the mask is {arr.shape[1]}x{arr.shape[0]} but the image is {shape[1]}x{shape[0]}")
    return arr


def import_voc(paths: LabelPaths, shape: tuple[int, int]) -> LoadedAnnotation | None:
    """Objects from existing VOC PNGs (no sidecar): one object per instance index, or per class."""
    inst = _read_mask(paths.object_png, shape)
    cls = _read_mask(paths.class_png, shape)
    if inst is None and cls is None:
        return None
    objects = [AnnotObject(uid=0, class_index=c, mask=m) for c, m in foreign_masks.read_regions(inst, cls)]
    foreign = [p for p, a in ((paths.class_png, cls), (paths.object_png, inst)) if a is not None]
    return LoadedAnnotation([], objects, None, void=void_layer.from_mask(void_layer.voc_void(inst, cls)),
                            foreign=foreign)


def load(out_dir: str | os.PathLike, image_path: str | os.PathLike,
         shape: tuple[int, int]) -> LoadedAnnotation | None:
    """Read the annotation of an image (sidecar, else VOC PNGs); None when there is none."""
    paths = paths_for(out_dir, image_path)
    if paths.too_long():
        return None  # no file of that name can exist
    if paths.sidecar.exists():
        loaded = read_sidecar(paths.sidecar, shape, Path(image_path))
        try:
            on_disk = _read_mask(paths.object_png, shape)
            cls_on_disk = _read_mask(paths.class_png, shape)
        except AnnotationFileError:
            on_disk = cls_on_disk = None
        if not _pngs_expected(bool(loaded.objects), loaded.current is not None):
            loaded.needs_resave = on_disk is not None or cls_on_disk is not None  # stale: remove them
            return loaded
        cls, inst = png_maps(loaded.objects, loaded.void,
                             None if loaded.current is None else loaded.current.mask, shape)
        # Both PNGs: a relabel changes only the class PNG, so a crash can leave just that one stale.
        loaded.needs_resave = (on_disk is None or not np.array_equal(on_disk, inst)
                               or cls_on_disk is None or not np.array_equal(cls_on_disk, cls))
        loaded.foreign = [p for p, a, b in ((paths.class_png, cls_on_disk, cls), (paths.object_png, on_disk, inst))
                          if a is not None and not np.array_equal(a, b)
                          and foreign_masks.changed_elsewhere(p, paths.sidecar)]
        return loaded
    return import_voc(paths, shape)
