"""The annotation sidecar's JSON (schema in annotator.label_file): the document written for a state, the
run-length encoding of its masks, and the reader that validates an untrusted file before anything of it is used.

`mask.rle` is an object's full mask (before later objects cover it) as alternating run lengths of 0s and 1s
over the row-major flattened HxW image, starting with 0s. A sidecar is read only when it is a regular file
of at most MAX_SIDECAR_BYTES; brush strokes are stored clipped to the image (annotator.state.clip_stroke).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotator import void_layer
from annotator.state import AnnotationState, AnnotObject, ClassDef, Stroke, clip_stroke
from annotator.void_layer import VoidLayer
from models.clicks import Click
from models.errors import AnnotationFileError
from models.fileio import FileRefused, read_regular_file

FORMAT = "ifcn-annotation"
VERSION = 1
#: Largest sidecar read or written (bytes): far above any real annotation, small enough to parse safely.
MAX_SIDECAR_BYTES = 64 * 2**20
#: Stroke coordinates or radii (image px) beyond this are no mouse drag: such a sidecar is refused.
STROKE_LIMIT = 1e7


@dataclass
class LoadedAnnotation:
    """What was read for one image: classes, finished objects, the unfinished object."""

    classes: list[ClassDef]
    objects: list[AnnotObject]
    current: AnnotObject | None
    needs_resave: bool = False  # PNGs on disk disagree with the sidecar (e.g. a crash between writes)
    void: VoidLayer = field(default_factory=VoidLayer)
    foreign: list[Path] = field(default_factory=list)  # PNGs another program wrote: back up before saving


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


# ---- writing -----------------------------------------------------------------------------------
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


# ---- reading -----------------------------------------------------------------------------------
def file_error(path: Path, why: str) -> AnnotationFileError:
    """The error for an annotation file that cannot be used, naming it and what to do."""
    return AnnotationFileError(f"{path}: {why}. Fix or delete the file to re-annotate this image.")


def _parse_clicks(raw: Any, path: Path, shape: tuple[int, int]) -> tuple[Click, ...]:
    h, w = shape
    if not isinstance(raw, list):
        raise file_error(path, "'clicks' must be a list")
    out = []
    for c in raw:
        if (not isinstance(c, list) or len(c) != 3 or not all(isinstance(v, (int, float)) for v in c[:2])
                or isinstance(c[0], bool) or isinstance(c[1], bool) or not isinstance(c[2], bool)):
            raise file_error(path, f"a click must be [x, y, positive], got {c!r}")
        x, y = float(c[0]), float(c[1])
        if not (np.isfinite(x) and np.isfinite(y) and 0 <= x < w and 0 <= y < h):
            raise file_error(path, f"click ({c[0]}, {c[1]}) lies outside the {w}x{h} image")
        out.append(Click(int(x), int(y), c[2]))
    return tuple(out)


def _parse_strokes(raw: Any, path: Path, shape: tuple[int, int]) -> tuple[Stroke, ...]:
    if not isinstance(raw, list):
        raise file_error(path, "'strokes' must be a list")
    out = []
    for s in raw:
        try:
            pts = tuple((float(x), float(y)) for x, y in s["points"])
            radius = float(s["radius"])
            erase = s.get("erase", False)
        except (TypeError, KeyError, ValueError, AttributeError):
            raise file_error(path, f"malformed brush stroke {str(s)[:80]!r}") from None
        if not isinstance(erase, bool) or not np.isfinite(radius) or not 0 < radius <= STROKE_LIMIT or \
                not all(np.isfinite(v) and abs(v) <= STROKE_LIMIT for p in pts for v in p):
            raise file_error(path, f"malformed brush stroke {str(s)[:80]!r}")
        stroke: Stroke | None = Stroke(pts, radius, erase)
        far = 4 * max(shape)  # strokes are clipped when recorded (state.clip_stroke): always within this
        if radius > far or any(abs(v) > far for p in pts for v in p):
            stroke = clip_stroke(stroke, shape)  # a file written before strokes were clipped
        if stroke is not None:
            out.append(stroke)
    return tuple(out)


def _parse_class_index(raw: Any, path: Path) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 254:
        raise file_error(path, f"class index {raw!r} is not an integer in 1..254")
    return raw


def _read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes (AnnotationFileError if not;
    `models.fileio.read_regular_file`: a FIFO never blocks, a link to a device is never read)."""
    try:
        return read_regular_file(path, limit)
    except FileRefused as e:
        if e.kind == "type":
            raise file_error(path, "is not a regular file (a folder, pipe, device or socket)") from None
        if e.kind == "size" and e.size is not None:
            raise file_error(path, f"is {e.size / 2**20:.0f} MB, over the {limit // 2**20} MB a sidecar may have") \
                from None
        if e.kind == "size":  # grew while being read
            raise file_error(path, f"is over the {limit // 2**20} MB a sidecar may have") from None
        raise file_error(path, f"cannot be read ({e.detail})") from None


def read_json(path: Path) -> Any:
    """The JSON of the sidecar at `path`, read safely (AnnotationFileError naming it when it cannot be)."""
    data = _read_regular_file(path, MAX_SIDECAR_BYTES)
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise file_error(path, "not a sidecar (JSON nested too deeply)") from None
    except ValueError as e:  # bad UTF-8, bad JSON, a number of thousands of digits
        raise file_error(path, f"not valid JSON ({str(e)[:200]})") from None


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
        doc = read_json(path)
    except AnnotationFileError:
        return None
    named = doc.get("image") if isinstance(doc, dict) else None
    return named if isinstance(named, str) else None


def read_sidecar(path: Path, shape: tuple[int, int], image: Path | None = None) -> LoadedAnnotation:
    """Parse and validate a sidecar for an image of `shape` (AnnotationFileError naming the file).

    With `image`: a sidecar whose `image` field names another existing image is refused, not applied.
    """
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise file_error(path, f"not an {FORMAT} sidecar (another schema)")
    if doc.get("version") != VERSION:
        raise file_error(path, f"sidecar version {doc.get('version')!r} is not supported (this program "
                         f"reads version {VERSION})")
    if image is not None:
        other = _other_image(doc.get("image"), image)
        if other is not None:
            raise file_error(path, f"it is the annotation of {other[:200]!r}, not of {image.name!r}")
    h, w = shape
    if doc.get("size") != [w, h]:
        raise file_error(path, f"the sidecar is for a {doc.get('size')} image but the image is {w}x{h}")
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
                raise file_error(path, str(e)) from None
            objects.append(AnnotObject(uid=0, class_index=_parse_class_index(o["class"], path),
                                       clicks=_parse_clicks(o.get("clicks", []), path, shape),
                                       strokes=_parse_strokes(o.get("strokes", []), path, shape), mask=mask))
        void = VoidLayer()
        if doc.get("void") is not None:
            try:
                void = void_layer.from_mask(rle_decode(doc["void"]["rle"], shape))
            except ValueError as e:
                raise file_error(path, f"void: {e}") from None
        current = None
        cur = doc.get("current")
        if cur is not None:
            try:
                cur_mask = None if cur.get("mask") is None else rle_decode(cur["mask"]["rle"], shape)
            except ValueError as e:
                raise file_error(path, f"current: {e}") from None
            current = AnnotObject(uid=0, class_index=_parse_class_index(cur["class"], path),
                                  clicks=_parse_clicks(cur.get("clicks", []), path, shape),
                                  strokes=_parse_strokes(cur.get("strokes", []), path, shape), mask=cur_mask)
    except AnnotationFileError:
        raise
    except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError):
        raise file_error(path, "the sidecar does not follow the schema") from None
    if len(objects) > 254:
        raise file_error(path, "more than 254 objects")
    return LoadedAnnotation(classes, objects, current, void=void)
