"""Protecting finished objects: the pixels a new object may not take, and the overlap to show (Qt-free).

A finished object's pixels belong to it. While "protect finished objects" is on (the default), the current
object's mask is its prediction and strokes minus the pixels of the finished objects, so finishing a new
object next to an old one never shrinks the old one; the part left out is the overlap, drawn hatched.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def protected_pixels(objects: Sequence, shape: tuple[int, int],
                     own: np.ndarray | None = None) -> np.ndarray | None:
    """Union of the finished objects' masks, minus `own` (the pixels a resumed object already held);
    None when no pixel is protected."""
    masks = [o.mask for o in objects if getattr(o, "mask", None) is not None]
    if not masks:
        return None
    union = np.zeros(shape, dtype=bool)
    for m in masks:
        union |= m
    if own is not None:
        union &= ~own
    return union if union.any() else None


def without_protected(mask: np.ndarray, protected: np.ndarray | None) -> np.ndarray:
    """`mask` without the protected pixels (the same array when they do not meet)."""
    if protected is None:
        return mask
    hit = mask & protected
    return mask & ~hit if hit.any() else mask


def overlap_message(n_pixels: int, protect: bool) -> str:
    """The status bar line about the current object's overlap with finished objects ('' when none)."""
    if n_pixels <= 0:
        return ""
    px = f"{n_pixels:,} px"
    # short enough for the status bar beside its permanent fields (the menu item says the rest)
    if protect:
        return f"{px} overlap finished objects (hatched): they keep them"
    return f"{px} overlap finished objects (hatched): finishing takes them"
