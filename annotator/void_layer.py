"""VOC's "void" (255) layer of one image: ignore regions painted by hand or read from foreign masks.

The layer is a starting mask (`base`, e.g. the 255 borders of a VOC devkit mask) plus void brush strokes
painted (erase=False) or erased (erase=True) in order. It is immutable like every value of an undo
snapshot (annotator.state); its mask is computed on demand and the last few are cached here, not in the
layer, so 200 undo steps never hold 200 image-sized masks.

In both PNGs the void is written as 255 over everything (`apply_void`), like VOC's difficult borders: the
objects below keep their whole masks in the sidecar and show again where the void is erased. Training,
the NoC benchmark and the exports read 255 as "ignore" (models.metrics, training.datasets, training.convert).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from annotator.state import Stroke

#: The VOC void value in SegmentationClass and SegmentationObject PNGs.
VOID = 255
_CACHE_SIZE = 3
_cache: list[tuple[weakref.ref, np.ndarray]] = []


@dataclass(frozen=True, eq=False)
class VoidLayer:
    """The void pixels of an image: `base` (bool HxW, never written after creation, or None) then `strokes`."""

    base: np.ndarray | None = None
    strokes: tuple["Stroke", ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing was ever painted or read (the mask may still be empty after erasing)."""
        return self.base is None and not self.strokes

    def with_stroke(self, stroke: "Stroke") -> "VoidLayer":
        """A new layer with one more (already clipped) stroke."""
        return VoidLayer(self.base, self.strokes + (stroke,))

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The void pixels (bool HxW, shared: read-only)."""
        for ref, m in _cache:
            if ref() is self:
                return m
        from annotator.state import apply_strokes

        start, done = (np.zeros(shape, bool) if self.base is None else self.base), 0
        for ref, m in _cache:  # an ancestor (same base, a prefix of the strokes): paint only the rest
            other = ref()
            if (other is not None and other.base is self.base and len(other.strokes) <= len(self.strokes)
                    and len(other.strokes) > done and self.strokes[:len(other.strokes)] == other.strokes):
                start, done = m, len(other.strokes)
        if self.strokes[done:]:
            out = apply_strokes(start, self.strokes[done:])
            out.setflags(write=False)
        else:
            out = start
        _cache[:] = [(r, m) for r, m in _cache if r() is not None][-(_CACHE_SIZE - 1):] + [(weakref.ref(self), out)]
        return out

    def any(self, shape: tuple[int, int]) -> bool:
        """True when at least one pixel is void."""
        return not self.is_empty and bool(self.mask(shape).any())


def from_mask(mask: np.ndarray | None) -> VoidLayer:
    """A layer holding exactly `mask` (None or an all-False mask: the empty layer)."""
    if mask is None or not np.asarray(mask).any():
        return VoidLayer()
    base = np.array(mask, dtype=bool, copy=True)
    base.setflags(write=False)
    return VoidLayer(base)


def apply_void(cls: np.ndarray, inst: np.ndarray, void: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The class and instance maps with 255 written over the void pixels (in place; returned)."""
    if void is not None and void.any():
        cls[void] = VOID
        inst[void] = VOID
    return cls, inst


def voc_void(inst: np.ndarray | None, cls: np.ndarray | None) -> np.ndarray | None:
    """Void pixels of VOC PNGs (255 in either), or None when there are none."""
    void = None
    for arr in (inst, cls):
        if arr is not None:
            v = arr == VOID
            void = v if void is None else (void | v)
    return void if void is not None and void.any() else None
