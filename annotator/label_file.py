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
(annotator.state.clip_stroke).
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from annotator import foreign_masks, void_layer
from annotator.state import AnnotationState, AnnotObject, ClassDef, Stroke, clip_stroke, compose, insert_at
from annotator.void_layer import VoidLayer, apply_void
from models.clicks import Click
from models.errors import AnnotationFileError, ImageReadError
from models.fileio import atomic_write_text, encode_index_png, read_index_png, voc_colormap
from models import fileio

FORMAT = "ifcn-annotation"
VERSION = 1
CLASS_DIR = "SegmentationClass"
OBJECT_DIR = "SegmentationObject"
SIDECAR_DIR = "annotations"
VOID = 255
#: Largest sidecar read or written (bytes): far above any real annotation, small enough to parse safely.
MAX_SIDECAR_BYTES = 64 * 2**20
#: Stroke coordinates or radii (image px) beyond this are no mouse drag: such a sidecar is refused.
STROKE_LIMIT = 1e7


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


@dataclass
class LoadedAnnotation:
    """What was read for one image: classes, finished objects, the unfinished object."""

    classes: list[ClassDef]
    objects: list[AnnotObject]
    current: AnnotObject | None
    needs_resave: bool = False  # PNGs on disk disagree with the sidecar (e.g. a crash between writes)
    void: VoidLayer = field(default_factory=VoidLayer)
    foreign: list[Path] = field(default_factory=list)  # PNGs another program wrote: back up before saving


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
        doc = _read_json(sidecar)
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


# ---- run-length encoding -------------------------------------------------------------------------
def rle_encode(mask: np.ndarray) -> list[int]:
    """Alternating run lengths (0s first) of the row-major flattened boolean mask."""
    flat = np.asarray(mask, dtype=bool).ravel()
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    return ([0] + runs) if flat[0] else runs


def rle_decode(runs: list[int], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of rle_encode; ValueError when the runs are not whole numbers covering exactly HxW pixels."""
    total = shape[0] * shape[1]
    bad = ValueError(f"mask run lengths do not add up to a {shape[1]}x{shape[0]} image")
    if not isinstance(runs, list) or len(runs) > total + 1:
        raise bad
    try:
        arr = np.asarray(runs) if runs else np.zeros(0, np.int64)
    except (ValueError, OverflowError, TypeError):
        raise bad from None
    # Each run within 0..HxW before summing: at most HxW+1 of them, so the int64 sum cannot wrap.
    if arr.ndim != 1 or arr.dtype.kind not in "iu" or (arr.size and (arr.min() < 0 or arr.max() > total)):
        raise bad
    arr = arr.astype(np.int64, copy=False)
    if int(arr.sum()) != total:
        raise bad
    values = (np.arange(arr.size) % 2).astype(bool)
    return np.repeat(values, arr).reshape(shape)


# ---- saving --------------------------------------------------------------------------------------
def _clicks_json(clicks) -> list:
    return [[int(round(c.x)), int(round(c.y)), bool(c.positive)] for c in clicks]


def _strokes_json(strokes) -> list:
    return [{"points": [[round(float(x), 2), round(float(y), 2)] for x, y in s.points],
             "radius": round(float(s.radius), 3), "erase": bool(s.erase)} for s in strokes]


def unfinished_mask(state: AnnotationState) -> np.ndarray | None:
    """The unfinished object's prediction + strokes as shown, or None (no unfinished object, a resumed
    one, or its prediction pending)."""
    cur = state.current
    if cur.is_empty or cur.base is not None:
        return None
    return state.raw_current_mask()


def png_maps(objects: Sequence[AnnotObject], void: VoidLayer, unfinished: np.ndarray | None,
             shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(class map, instance map) the PNGs hold: the finished objects, 255 on the void and on the
    unfinished object's pixels outside finished objects (not labelled yet: not background)."""
    cls, inst = apply_void(*compose(objects, shape), None if void.is_empty else void.mask(shape))
    if unfinished is not None:
        apply_void(cls, inst, unfinished & (inst == 0))
    return cls, inst


def to_sidecar(state: AnnotationState, image_name: str) -> dict[str, Any]:
    """The sidecar document describing `state`."""
    h, w = state.shape
    cur = state.current
    pending = unfinished_mask(state)
    return {
        "format": FORMAT, "version": VERSION, "image": image_name, "size": [w, h],
        "classes": [{"index": c.index, "name": c.name, "color": list(c.color)} for c in state.classes],
        "objects": [{"instance": i, "class": o.class_index, "clicks": _clicks_json(o.clicks),
                     "strokes": _strokes_json(o.strokes), "mask": {"rle": rle_encode(o.mask)}}
                    for i, o in enumerate(state.objects, start=1) if o.mask is not None],
        "void": {"rle": rle_encode(state.void.mask(state.shape))} if state.void.any(state.shape) else None,
        "current": None if cur.is_empty or cur.base is not None else {
            "class": cur.class_index, "clicks": _clicks_json(cur.clicks),
            "strokes": _strokes_json(cur.strokes),
            **({} if pending is None else {"mask": {"rle": rle_encode(pending)}})},
    }


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
def _bad(path: Path, why: str) -> AnnotationFileError:
    return AnnotationFileError(f"{path}: {why}. Fix or delete the file to re-annotate this image.")


def _parse_clicks(raw: Any, path: Path, shape: tuple[int, int]) -> tuple[Click, ...]:
    h, w = shape
    if not isinstance(raw, list):
        raise _bad(path, "'clicks' must be a list")
    out = []
    for c in raw:
        if (not isinstance(c, list) or len(c) != 3 or not all(isinstance(v, (int, float)) for v in c[:2])
                or isinstance(c[0], bool) or isinstance(c[1], bool) or not isinstance(c[2], bool)):
            raise _bad(path, f"a click must be [x, y, positive], got {c!r}")
        x, y = float(c[0]), float(c[1])
        if not (np.isfinite(x) and np.isfinite(y) and 0 <= x < w and 0 <= y < h):
            raise _bad(path, f"click ({c[0]}, {c[1]}) lies outside the {w}x{h} image")
        out.append(Click(int(x), int(y), c[2]))
    return tuple(out)


def _parse_strokes(raw: Any, path: Path, shape: tuple[int, int]) -> tuple[Stroke, ...]:
    if not isinstance(raw, list):
        raise _bad(path, "'strokes' must be a list")
    out = []
    for s in raw:
        try:
            pts = tuple((float(x), float(y)) for x, y in s["points"])
            radius = float(s["radius"])
            erase = s.get("erase", False)
        except (TypeError, KeyError, ValueError, AttributeError):
            raise _bad(path, f"malformed brush stroke {str(s)[:80]!r}") from None
        if not isinstance(erase, bool) or not np.isfinite(radius) or not 0 < radius <= STROKE_LIMIT or \
                not all(np.isfinite(v) and abs(v) <= STROKE_LIMIT for p in pts for v in p):
            raise _bad(path, f"malformed brush stroke {str(s)[:80]!r}")
        stroke: Stroke | None = Stroke(pts, radius, erase)
        far = 4 * max(shape)  # strokes are clipped when recorded (state.clip_stroke): always within this
        if radius > far or any(abs(v) > far for p in pts for v in p):
            stroke = clip_stroke(stroke, shape)  # a file written before strokes were clipped
        if stroke is not None:
            out.append(stroke)
    return tuple(out)


def _parse_class_index(raw: Any, path: Path) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 254:
        raise _bad(path, f"class index {raw!r} is not an integer in 1..254")
    return raw


def _read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes (AnnotationFileError if not).

    Opened non-blocking and checked on the open descriptor, so a FIFO never blocks and a link to a
    device (/dev/zero) is never read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise _bad(path, f"cannot be read ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _bad(path, "is not a regular file (a folder, pipe, device or socket)")
        if st.st_size > limit:
            raise _bad(path, f"is {st.st_size / 2**20:.0f} MB, over the {limit // 2**20} MB a sidecar may have")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # grew while being read
            raise _bad(path, f"is over the {limit // 2**20} MB a sidecar may have")
        return b"".join(chunks)
    except OSError as e:
        raise _bad(path, f"cannot be read ({e.strerror or e})") from None
    finally:
        os.close(fd)


def _read_json(path: Path) -> Any:
    data = _read_regular_file(path, MAX_SIDECAR_BYTES)
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise _bad(path, "not a sidecar (JSON nested too deeply)") from None
    except ValueError as e:  # bad UTF-8, bad JSON, a number of thousands of digits
        raise _bad(path, f"not valid JSON ({str(e)[:200]})") from None


def _other_image(named: Any, image: Path) -> str | None:
    """The sidecar's `image` field when it names an image other than `image` that exists beside it."""
    if not isinstance(named, str) or named == image.name:
        return None
    if not named or Path(named).name != named:
        return named or "(no name)"  # not a file name of this folder: not this image either
    other = image.parent / named
    try:
        return named if other.exists() and not os.path.samefile(other, image) else None
    except OSError:
        return None  # gone or unreadable: the image was renamed (same size, checked), keep its work


def sidecar_image_name(path: Path) -> str | None:
    """The `image` field of the sidecar at `path` (None when it has none or cannot be read)."""
    try:
        doc = _read_json(path)
    except AnnotationFileError:
        return None
    named = doc.get("image") if isinstance(doc, dict) else None
    return named if isinstance(named, str) else None


def read_sidecar(path: Path, shape: tuple[int, int], image: Path | None = None) -> LoadedAnnotation:
    """Parse and validate a sidecar for an image of `shape` (AnnotationFileError naming the file).

    With `image`: a sidecar whose `image` field names another existing image is refused, not applied.
    """
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _bad(path, f"not an {FORMAT} sidecar (another schema)")
    if doc.get("version") != VERSION:
        raise _bad(path, f"sidecar version {doc.get('version')!r} is not supported (this program "
                         f"reads version {VERSION})")
    if image is not None:
        other = _other_image(doc.get("image"), image)
        if other is not None:
            raise _bad(path, f"it is the annotation of {other[:200]!r}, not of {image.name!r}")
    h, w = shape
    if doc.get("size") != [w, h]:
        raise _bad(path, f"the sidecar is for a {doc.get('size')} image but the image is {w}x{h}")
    try:
        classes = [ClassDef(_parse_class_index(c["index"], path), str(c["name"]),
                            tuple(int(v) for v in c["color"][:3])) for c in doc.get("classes", [])]
        if any(not c.name.strip() or len(c.color) != 3 or not all(0 <= v <= 255 for v in c.color)
               for c in classes):
            raise ValueError
        objects = []
        for o in doc.get("objects", []):
            try:
                mask = rle_decode(o["mask"]["rle"], shape)
            except ValueError as e:
                raise _bad(path, str(e)) from None
            objects.append(AnnotObject(uid=0, class_index=_parse_class_index(o["class"], path),
                                       clicks=_parse_clicks(o.get("clicks", []), path, shape),
                                       strokes=_parse_strokes(o.get("strokes", []), path, shape), mask=mask))
        void = VoidLayer()
        if doc.get("void") is not None:
            try:
                void = void_layer.from_mask(rle_decode(doc["void"]["rle"], shape))
            except ValueError as e:
                raise _bad(path, f"void: {e}") from None
        current = None
        cur = doc.get("current")
        if cur is not None:
            try:
                cur_mask = None if cur.get("mask") is None else rle_decode(cur["mask"]["rle"], shape)
            except ValueError as e:
                raise _bad(path, f"current: {e}") from None
            current = AnnotObject(uid=0, class_index=_parse_class_index(cur["class"], path),
                                  clicks=_parse_clicks(cur.get("clicks", []), path, shape),
                                  strokes=_parse_strokes(cur.get("strokes", []), path, shape), mask=cur_mask)
    except AnnotationFileError:
        raise
    except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError):
        raise _bad(path, "the sidecar does not follow the schema") from None
    if len(objects) > 254:
        raise _bad(path, "more than 254 objects")
    return LoadedAnnotation(classes, objects, current, void=void)


def _read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        arr = read_index_png(path)
    except ImageReadError as e:
        raise AnnotationFileError(str(e)) from None
    if arr.shape != shape:
        raise _bad(path, f"the mask is {arr.shape[1]}x{arr.shape[0]} but the image is {shape[1]}x{shape[0]}")
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
