"""Qt-free annotation state of one image: objects, clicks, brush edits, class table, undo/redo, dirty flag.

Invariants: every value reachable from a snapshot is immutable (frozen dataclasses, tuples, arrays that are
never written after creation), so an undo snapshot is just a reference to (objects, current, next_uid).
Coordinates follow the project convention: (x, y) = (column, row) in image pixels.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import cv2
import numpy as np

from models.clicks import Click
from models.fileio import voc_colormap

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
#: Index values usable for classes and instances (0 = background, 255 = VOC "void").
MAX_INDEX = 254
UNDO_LIMIT = 200
#: Upper bound on the memory held by cached probability maps (bytes); the latest map is always kept.
PROB_CACHE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class ClassDef:
    """One label class: its index in SegmentationClass PNGs, a name and an RGB colour."""

    index: int
    name: str
    color: tuple[int, int, int]


class ClassTable:
    """The editable list of label classes (add, rename, recolour), the 20 VOC classes by default."""

    def __init__(self, classes: Iterable[ClassDef] | None = None) -> None:
        self._classes: dict[int, ClassDef] = {}
        if classes is None:
            cmap = voc_colormap()
            classes = [ClassDef(i + 1, n, tuple(int(v) for v in cmap[i + 1]))
                       for i, n in enumerate(VOC_CLASSES)]
        for c in classes:
            self._put(c)

    def _put(self, c: ClassDef) -> None:
        if not 1 <= c.index <= MAX_INDEX:
            raise ValueError(f"class index must lie in 1..{MAX_INDEX}, got {c.index}")
        name = c.name.strip()
        if not name:
            raise ValueError("a class name cannot be empty")
        color = tuple(int(max(0, min(255, v))) for v in c.color)
        self._classes[c.index] = ClassDef(c.index, name, color)  # type: ignore[arg-type]

    def __iter__(self):
        return iter(self.classes())

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, index: int) -> bool:
        return index in self._classes

    def classes(self) -> list[ClassDef]:
        """All classes sorted by index."""
        return [self._classes[i] for i in sorted(self._classes)]

    def get(self, index: int) -> ClassDef:
        """The class with this index; an unknown index gets a placeholder name and its VOC colour."""
        if index in self._classes:
            return self._classes[index]
        cmap = voc_colormap()
        return ClassDef(index, f"class {index}", tuple(int(v) for v in cmap[index % 256]))

    def add(self, name: str, color: Sequence[int] | None = None) -> ClassDef:
        """Add a class at the first free index (VOC colour of that index unless given)."""
        free = next((i for i in range(1, MAX_INDEX + 1) if i not in self._classes), None)
        if free is None:
            raise ValueError(f"no free class index left (at most {MAX_INDEX} classes)")
        col = tuple(color) if color is not None else tuple(int(v) for v in voc_colormap()[free])
        self._put(ClassDef(free, name, col))  # type: ignore[arg-type]
        return self._classes[free]

    def rename(self, index: int, name: str) -> None:
        """Rename the class `index`."""
        self._put(replace(self._require(index), name=name))

    def recolor(self, index: int, color: Sequence[int]) -> None:
        """Give the class `index` a new RGB colour."""
        self._put(replace(self._require(index), color=tuple(color)))  # type: ignore[arg-type]

    def merge(self, classes: Iterable[ClassDef]) -> None:
        """Take names/colours of `classes` (e.g. from a sidecar), adding unknown indices."""
        for c in classes:
            self._put(c)

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 palette: VOC colours with each class's own colour at its index."""
        pal = voc_colormap().copy()
        for c in self._classes.values():
            pal[c.index] = c.color
        return pal

    def nth(self, n: int) -> ClassDef | None:
        """The n-th class in index order (0-based), for the number keys 1..9."""
        cl = self.classes()
        return cl[n] if 0 <= n < len(cl) else None

    def _require(self, index: int) -> ClassDef:
        if index not in self._classes:
            raise KeyError(f"no class with index {index}")
        return self._classes[index]


@dataclass(frozen=True)
class Stroke:
    """A brush (or eraser) stroke in image pixels: a polyline drawn with round caps of `radius`."""

    points: tuple[tuple[float, float], ...]
    radius: float
    erase: bool = False


@dataclass(frozen=True)
class AnnotObject:
    """One object: class, clicks and brush strokes; finished objects also hold their final mask.

    `base` / `base_clicks`: a mask to start from while the clicks still equal `base_clicks` (an object
    resumed for editing keeps its exact mask until the user clicks again). `slot`: where a resumed object
    goes back in the object list when finished, so it keeps its instance number.
    """

    uid: int
    class_index: int
    clicks: tuple[Click, ...] = ()
    strokes: tuple[Stroke, ...] = ()
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)
    base: np.ndarray | None = field(default=None, compare=False, repr=False)
    base_clicks: tuple[Click, ...] | None = None
    slot: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when the object has neither clicks, strokes nor a mask to start from."""
        return not self.clicks and not self.strokes and self.base is None


def apply_strokes(base: np.ndarray, strokes: Iterable[Stroke]) -> np.ndarray:
    """Paint / erase the strokes, in order, onto a copy of the boolean mask `base`."""
    out = np.array(base, dtype=bool, copy=True)
    h, w = out.shape
    for s in strokes:
        if not s.points:
            continue
        r = max(0.5, float(s.radius))
        pts = np.asarray(s.points, dtype=np.float64).reshape(-1, 2)
        x0 = int(max(0, np.floor(pts[:, 0].min() - r - 1)))
        y0 = int(max(0, np.floor(pts[:, 1].min() - r - 1)))
        x1 = int(min(w, np.ceil(pts[:, 0].max() + r + 2)))
        y1 = int(min(h, np.ceil(pts[:, 1].max() + r + 2)))
        if x1 <= x0 or y1 <= y0:
            continue
        crop = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        ipts = np.round(pts - [x0, y0]).astype(np.int32)
        rad = int(round(r))
        for i, (px, py) in enumerate(ipts):
            cv2.circle(crop, (int(px), int(py)), rad, 1, thickness=-1)
            if i:
                qx, qy = ipts[i - 1]
                cv2.line(crop, (int(qx), int(qy)), (int(px), int(py)), 1, thickness=2 * rad + 1)
        out[y0:y1, x0:x1][crop.astype(bool)] = not s.erase
    return out


#: Decimals kept of stroke coordinates and radii: what the sidecar stores, so a recorded stroke reloads exactly.
STROKE_DECIMALS, RADIUS_DECIMALS = 2, 3


def _clip_segment(a, b, lo, hi):
    """The part of segment a-b inside the box lo..hi (Liang-Barsky), or None."""
    t0, t1 = 0.0, 1.0
    d = (b[0] - a[0], b[1] - a[1])
    for k in (0, 1):
        for p, q in ((-d[k], a[k] - lo[k]), (d[k], hi[k] - a[k])):
            if p == 0:
                if q < 0:
                    return None
            elif p < 0:
                t0 = max(t0, q / p)
            else:
                t1 = min(t1, q / p)
    if t0 > t1:
        return None
    pa = a if t0 == 0 else (a[0] + t0 * d[0], a[1] + t0 * d[1])
    pb = b if t1 == 1 else (a[0] + t1 * d[0], a[1] + t1 * d[1])
    return pa, pb


def _border_pos(p, lo, hi) -> float:
    """Position of a point of the box's border along its perimeter (clockwise from the top-left corner)."""
    (x0, y0), (x1, y1) = lo, hi
    w, h = x1 - x0, y1 - y0
    x, y = min(max(p[0], x0), x1), min(max(p[1], y0), y1)
    dist = {abs(y - y0): x - x0, abs(x - x1): w + (y - y0), abs(y - y1): w + h + (x1 - x),
            abs(x - x0): 2 * w + h + (y1 - y)}
    return dist[min(dist)]


def _border_path(p, q, lo, hi) -> list:
    """The corners passed going from border point p to border point q the shorter way round the box."""
    (x0, y0), (x1, y1) = lo, hi
    w, h = x1 - x0, y1 - y0
    perim = 2 * (w + h)
    corners = [(0.0, (x0, y0)), (w, (x1, y0)), (w + h, (x1, y1)), (2 * w + h, (x0, y1))]
    sp, sq = _border_pos(p, lo, hi), _border_pos(q, lo, hi)
    fwd = (sq - sp) % perim
    if fwd <= perim - fwd:
        ahead = sorted(((s - sp) % perim, c) for s, c in corners)
        return [c for d, c in ahead if 0 < d < fwd]
    behind = sorted(((sp - s) % perim, c) for s, c in corners)
    return [c for d, c in behind if 0 < d < perim - fwd]


def clip_stroke(stroke: Stroke, shape: tuple[int, int]) -> Stroke | None:
    """The stroke as recorded and saved: what can paint the image, in the sidecar's precision.

    The radius is capped at twice the image's longer side, and the polyline is clipped to the image
    padded by the radius + 3 px: a part farther out paints no pixel, and the pieces are joined along that
    padded border, which paints none either. Coordinates are rounded as the sidecar stores them. None
    when no part of the stroke reaches the image.
    """
    h, w = shape
    r = float(stroke.radius)
    if not np.isfinite(r):
        return None
    r = round(min(max(r, 0.5), 2.0 * max(h, w)), RADIUS_DECIMALS)
    pad = float(np.ceil(r) + 3)
    lo, hi = (-pad, -pad), (w - 1 + pad, h - 1 + pad)
    pts = [(float(x), float(y)) for x, y in stroke.points if np.isfinite(x) and np.isfinite(y)]
    out: list[tuple[float, float]] = []
    if len(pts) == 1:
        if lo[0] <= pts[0][0] <= hi[0] and lo[1] <= pts[0][1] <= hi[1]:
            out = pts
    for a, b in zip(pts, pts[1:]):
        seg = _clip_segment(a, b, lo, hi)
        if seg is None:
            continue
        p, q = seg
        if not out:
            out.append(p)
        elif out[-1] != p:  # left the box and came back: go round its border
            out.extend(_border_path(out[-1], p, lo, hi))
            out.append(p)
        if q != out[-1]:
            out.append(q)
    if not out:
        return None
    rounded = tuple((round(x, STROKE_DECIMALS), round(y, STROKE_DECIMALS)) for x, y in out)
    return Stroke(rounded, r, bool(stroke.erase))


def insert_at(objects: tuple[AnnotObject, ...], obj: AnnotObject,
              slot: int | None) -> tuple[AnnotObject, ...]:
    """`objects` with `obj` put back at index `slot` (an edited object), or appended when None."""
    if slot is None or slot >= len(objects):
        return objects + (obj,)
    return objects[:slot] + (obj,) + objects[slot:]


def compose(objects: Sequence[AnnotObject], shape: tuple[int, int],
            hidden: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(class map, instance map) uint8 HxW from finished objects; later objects win where they overlap."""
    cls = np.zeros(shape, dtype=np.uint8)
    inst = np.zeros(shape, dtype=np.uint8)
    hidden = set(hidden)
    for i, o in enumerate(objects, start=1):
        if o.mask is None or o.uid in hidden:
            continue
        cls[o.mask] = o.class_index
        inst[o.mask] = i
    return cls, inst


def _key(clicks: Sequence[Click], refine: bool) -> tuple:
    return (tuple(clicks), bool(refine))


class AnnotationState:
    """Everything the user edits on one image; widgets draw it and forward actions to it."""

    def __init__(self, shape: tuple[int, int], classes: ClassTable | None = None,
                 class_index: int = 1) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.classes = classes if classes is not None else ClassTable()
        self.objects: tuple[AnnotObject, ...] = ()
        self.current_class = class_index
        self._next_uid = 1
        self.current = self._new_object()
        self.threshold = 0.5
        self.refine = False
        self.hidden: set[int] = set()
        self.dirty = False
        self._undo: list[tuple] = []
        self._redo: list[tuple] = []
        self._probs: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._mask_cache: tuple | None = None

    # ---- snapshots -------------------------------------------------------------------------
    def _new_object(self) -> AnnotObject:
        o = AnnotObject(uid=self._next_uid, class_index=self.current_class)
        self._next_uid += 1
        return o

    def _snapshot(self) -> tuple:
        return (self.objects, self.current, self._next_uid)

    def _restore(self, snap: tuple) -> None:
        self.objects, self.current, self._next_uid = snap

    def _edit(self) -> None:
        """Record the state before an edit; every edit clears redo and marks the state dirty."""
        self._undo.append(self._snapshot())
        if len(self._undo) > UNDO_LIMIT:
            del self._undo[0]
        self._redo.clear()
        self.dirty = True

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return bool(self._redo)

    def undo(self) -> bool:
        """Undo the last edit (marks the state dirty); False when there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(self._snapshot())
        self._restore(self._undo.pop())
        self.dirty = True
        return True

    def redo(self) -> bool:
        """Redo the last undone edit (marks the state dirty); False when there is nothing to redo."""
        if not self._redo:
            return False
        self._undo.append(self._snapshot())
        self._restore(self._redo.pop())
        self.dirty = True
        return True

    def mark_saved(self) -> None:
        """Clear the dirty flag after a successful save."""
        self.dirty = False

    # ---- edits on the current object -----------------------------------------------------------
    def add_click(self, click: Click) -> None:
        """Append a click to the current object (ValueError if it lies outside the image)."""
        h, w = self.shape
        if not (np.isfinite(click.x) and np.isfinite(click.y)):  # inf would overflow in pixel()
            raise ValueError(f"Click at ({click.x:g}, {click.y:g}) is not a finite position in the image.")
        px, py = click.pixel()
        if not (0 <= px < w and 0 <= py < h):
            raise ValueError(f"Click at ({click.x:g}, {click.y:g}) lies outside the {w}x{h} image.")
        self._edit()
        self.current = replace(self.current, clicks=self.current.clicks + (Click(px, py, click.positive),))

    def add_stroke(self, stroke: Stroke) -> bool:
        """Add a brush / eraser stroke to the current object, clipped (see clip_stroke); False when it
        paints nothing of the image."""
        stroke = clip_stroke(stroke, self.shape)
        if stroke is None:
            return False
        self._edit()
        self.current = replace(self.current, strokes=self.current.strokes + (stroke,))
        return True

    def clear_current(self) -> bool:
        """Drop the current object's clicks and strokes; False when it was already empty."""
        if self.current.is_empty:
            return False
        self._edit()
        self.current = replace(self.current, clicks=(), strokes=(), base=None, base_clicks=None, slot=None)
        return True

    def set_current_class(self, class_index: int) -> None:
        """Pick the class for the current (and the next) object."""
        self.current_class = class_index
        if self.current.class_index != class_index:
            if self.current.is_empty:
                self.current = replace(self.current, class_index=class_index)
            else:
                self._edit()
                self.current = replace(self.current, class_index=class_index)

    def finish_object(self) -> AnnotObject | None:
        """Freeze the current object's mask and add it to the objects; None if there is no mask yet."""
        mask = self.current_mask()
        if mask is None or not mask.any():
            return None
        if len(self.objects) >= MAX_INDEX:
            raise ValueError(f"at most {MAX_INDEX} objects per image fit in a VOC object mask")
        self._edit()
        done = replace(self.current, mask=mask, base=None, base_clicks=None, slot=None)
        self.objects = insert_at(self.objects, done, self.current.slot)
        self.current = self._new_object()
        return done

    # ---- edits on finished objects ---------------------------------------------------------------
    def object_by_uid(self, uid: int) -> AnnotObject | None:
        """The finished object with this uid, if any."""
        return next((o for o in self.objects if o.uid == uid), None)

    def relabel(self, uid: int, class_index: int) -> None:
        """Give a finished object another class."""
        o = self.object_by_uid(uid)
        if o is None or o.class_index == class_index:
            return
        self._edit()
        self.objects = tuple(replace(x, class_index=class_index) if x.uid == uid else x
                             for x in self.objects)

    def delete(self, uid: int) -> None:
        """Delete a finished object."""
        if self.object_by_uid(uid) is None:
            return
        self._edit()
        self.objects = tuple(x for x in self.objects if x.uid != uid)
        self.hidden.discard(uid)

    def set_hidden(self, uid: int, hidden: bool) -> None:
        """Hide or show a finished object on the canvas (display only: it is still saved)."""
        (self.hidden.add if hidden else self.hidden.discard)(uid)

    def resume(self, uid: int) -> bool:
        """Make a finished object the current one again (its exact mask kept until the next click)."""
        o = self.object_by_uid(uid)
        if o is None or not self.current.is_empty:
            return False
        self._edit()
        slot = next(i for i, x in enumerate(self.objects) if x.uid == uid)
        self.objects = tuple(x for x in self.objects if x.uid != uid)
        # Strokes are already in the mask; re-applying the same strokes is idempotent.
        self.current = replace(o, mask=None, base=o.mask, base_clicks=o.clicks, slot=slot)
        self.hidden.discard(uid)
        return True

    # ---- loading -------------------------------------------------------------------------------
    def load_objects(self, objects: Sequence[AnnotObject], current: AnnotObject | None = None) -> None:
        """Replace the content with objects read from disk (clears history, not dirty)."""
        uid = 1
        fixed = []
        for o in objects:
            fixed.append(replace(o, uid=uid))
            uid += 1
        self.objects = tuple(fixed)
        self._next_uid = uid
        if current is not None and not current.is_empty:
            self.current = replace(current, uid=self._next_uid)
            self._next_uid += 1
            self.current_class = current.class_index
        else:
            self.current = self._new_object()
        self._undo.clear()
        self._redo.clear()
        self.dirty = False

    # ---- predictions -----------------------------------------------------------------------------
    def set_prediction(self, clicks: Sequence[Click], refine: bool, prob: np.ndarray) -> None:
        """Cache the probability map the predictor returned for these clicks (not an edit)."""
        if prob.shape != self.shape:
            raise ValueError(f"prediction shape {prob.shape} does not match the image {self.shape}")
        key = _key(clicks, refine)
        self._probs[key] = prob
        self._probs.move_to_end(key)
        total = sum(p.nbytes for p in self._probs.values())
        while len(self._probs) > 1 and total > PROB_CACHE_BYTES:
            _, old = self._probs.popitem(last=False)
            total -= old.nbytes

    def prediction_for(self, clicks: Sequence[Click], refine: bool | None = None) -> np.ndarray | None:
        """The cached probability map for these clicks, if any."""
        r = self.refine if refine is None else refine
        return self._probs.get(_key(clicks, r))

    def forget_predictions(self) -> None:
        """Drop cached probability maps (after the model changed)."""
        self._probs.clear()

    def needs_prediction(self) -> bool:
        """True when the current object has clicks whose prediction is not known yet."""
        c = self.current
        if not c.clicks or (c.base is not None and c.clicks == c.base_clicks):
            return False
        return self.prediction_for(c.clicks) is None

    def _shown_prob(self, clicks: Sequence[Click]) -> np.ndarray | None:
        """The map to draw: the refined one, or the network's own while its refinement is pending."""
        prob = self.prediction_for(clicks)
        if prob is None and self.refine:
            prob = self.prediction_for(clicks, refine=False)
        return prob

    def current_mask(self) -> np.ndarray | None:
        """Boolean mask of the current object (prediction + strokes); None while its prediction is pending.

        The returned array is shared (cached): treat it as read-only.
        """
        c = self.current
        key = (c, self.threshold, self.refine)
        src = (self._shown_prob(c.clicks) if c.clicks else None, c.base)
        cached = self._mask_cache
        if cached is not None and cached[0] == key and cached[1][0] is src[0] and cached[1][1] is src[1]:
            return cached[2]
        mask = self._compute_current_mask()
        if mask is not None:
            self._mask_cache = (key, src, mask)
        return mask

    def _compute_current_mask(self) -> np.ndarray | None:
        c = self.current
        if c.base is not None and c.clicks == c.base_clicks:
            base = c.base
        elif c.clicks:
            prob = self._shown_prob(c.clicks)
            if prob is None:
                return None
            base = prob >= self.threshold
        else:
            base = np.zeros(self.shape, dtype=bool)
        return apply_strokes(base, c.strokes) if c.strokes else base

    def label_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """(class map, instance map) of all finished objects, for saving (hidden ones included)."""
        return compose(self.objects, self.shape)
