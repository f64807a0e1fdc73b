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

from annotator.overlap import protected_pixels, without_protected
from annotator.void_layer import VoidLayer, apply_void
from models.class_list import MAX_INDEX, VOC_CLASSES, ClassDef, ClassTable  # noqa: F401 (re-exported)
from models.clicks import Click

UNDO_LIMIT = 200
#: Upper bound on the memory held by cached probability maps (bytes); the latest map is always kept.
PROB_CACHE_BYTES = 512 * 1024 * 1024


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
        self.protect_finished = False  # True: the current mask leaves finished objects' pixels alone (the window's default)
        self.hidden: set[int] = set()
        self.void = VoidLayer()  # VOC 255 "ignore" pixels (annotator.void_layer), part of the undo history
        self.dirty = False
        self._undo: list[tuple] = []
        self._redo: list[tuple] = []
        self._probs: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._mask_cache: tuple | None = None
        self._protect_cache: tuple | None = None

    # ---- snapshots -------------------------------------------------------------------------
    def _new_object(self) -> AnnotObject:
        o = AnnotObject(uid=self._next_uid, class_index=self.current_class)
        self._next_uid += 1
        return o

    def _snapshot(self) -> tuple:
        return (self.objects, self.current, self._next_uid, self.void)

    def _restore(self, snap: tuple) -> None:
        self.objects, self.current, self._next_uid, self.void = snap

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

    def add_void_stroke(self, stroke: Stroke) -> bool:
        """Paint (or, with erase, remove) VOC's void with a brush stroke, clipped like add_stroke; False
        when it paints nothing of the image."""
        stroke = clip_stroke(stroke, self.shape)
        if stroke is None:
            return False
        self._edit()
        self.void = self.void.with_stroke(stroke)
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

    def add_objects(self, objects: Sequence[AnnotObject]) -> int:
        """Add copies of finished objects (e.g. another image's) after the others, as one undoable edit; returns
        how many were added (as many as fit in a VOC object mask)."""
        fit = [o for o in objects if o.mask is not None and o.mask.shape == self.shape]
        fit = fit[:max(0, MAX_INDEX - len(self.objects))]
        new = tuple(replace(o, uid=self._next_uid + i, slot=None, base=None, base_clicks=None) for i, o in enumerate(fit))
        if new:
            self._edit()
            self.objects, self._next_uid = self.objects + new, self._next_uid + len(new)
        return len(new)

    # ---- loading -------------------------------------------------------------------------------
    def load_objects(self, objects: Sequence[AnnotObject], current: AnnotObject | None = None,
                     void: VoidLayer | None = None) -> None:
        """Replace the content with objects (and void) read from disk (clears history, not dirty)."""
        self.void = void if void is not None else VoidLayer()
        uid = 1
        fixed = []
        for o in objects:
            fixed.append(replace(o, uid=uid))
            uid += 1
        self.objects = tuple(fixed)
        self._next_uid = uid
        if current is not None and not current.is_empty:
            if current.mask is not None and current.clicks:  # its mask as saved, shown until the next click
                for refine in (False, True):
                    self.set_prediction(current.clicks, refine, current.mask.astype(np.float32))
            self.current = replace(current, uid=self._next_uid, mask=None)
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
        """Boolean mask of the current object as shown and finished: prediction + strokes, minus finished
        objects' pixels while protect_finished is on; None while its prediction is pending.

        The returned array is shared (cached): treat it as read-only.
        """
        raw = self.raw_current_mask()
        if raw is None or not self.protect_finished:
            return raw
        prot = self.protected_pixels()
        cached = self._protect_cache
        if len(cached) < 3 or cached[2] is not raw:  # the clipped mask, cached like the raw one
            self._protect_cache = cached = cached[:2] + (raw, without_protected(raw, prot))
        return cached[3]

    def protected_pixels(self) -> np.ndarray | None:
        """Pixels of finished objects the current object may not take (a resumed object keeps its own)."""
        key = (self.objects, self.current.base)
        cached = self._protect_cache
        if cached is None or cached[0][0] is not key[0] or cached[0][1] is not key[1]:
            self._protect_cache = cached = (key, protected_pixels(self.objects, self.shape, self.current.base))
        return cached[1]

    def current_overlap(self) -> np.ndarray | None:
        """Pixels of the current prediction + strokes that finished objects hold (kept by them while
        protect_finished is on, taken otherwise); None when there are none."""
        raw, prot = self.raw_current_mask(), self.protected_pixels()
        if raw is None or prot is None:
            return None
        hit = raw & prot
        return hit if hit.any() else None

    def raw_current_mask(self) -> np.ndarray | None:
        """The current object's prediction + strokes, before finished objects are protected (read-only)."""
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
        """(class map, instance map) of all finished objects, for saving (hidden ones included), 255 on void."""
        cls, inst = compose(self.objects, self.shape)
        return apply_void(cls, inst, None if self.void.is_empty else self.void.mask(self.shape))
