"""The void brush in the window: its tool action, its strokes and how the void shows on the canvas.

The void (VOC's 255, "ignore") is painted with left drags and erased with right drags of the void brush
(key V), at the brush size; each stroke is one undoable edit of the annotation state
(`AnnotationState.add_void_stroke`). On the canvas it is hatched grey over everything, so it reads as
"not labelled on purpose" on any image and apart from the red hatch of an overlap.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from annotator.state import Stroke
from annotator.widgets.canvas import MODE_VOID

#: Colours of the void hatch (RGBA): light grey ground, dark grey stripes.
GROUND, STRIPE = (200, 200, 200, 150), (70, 70, 70, 230)


def install(window: Any) -> None:
    """Put the void brush beside the eraser in the tool group, the View menu and the toolbar."""
    act = window.actions_by_name["tool_void"]
    eraser = window.actions_by_name["tool_eraser"]
    group = eraser.actionGroup()
    if group is not None:
        group.addAction(act)
    for widget in eraser.associatedWidgets():
        if widget is window or not hasattr(widget, "insertAction"):
            continue
        actions = widget.actions()
        i = actions.index(eraser)
        widget.insertAction(actions[i + 1] if i + 1 < len(actions) else None, act)
    act.toggled.connect(lambda on: on and window.set_tool(MODE_VOID))


def on_stroke(window: Any, points, radius: float, erase: bool) -> bool:
    """Record a void brush stroke (erase: remove void); False when it painted nothing."""
    stroke = Stroke(tuple((float(x), float(y)) for x, y in points), float(radius), erase)
    return window.state.add_void_stroke(stroke)


def hatch_void(rgba: np.ndarray, void: np.ndarray) -> np.ndarray:
    """`rgba` with the `void` pixels (same size) hatched grey (in place; returned)."""
    if void is None or not void.any():
        return rgba
    yy, xx = np.nonzero(void)
    stripe = ((xx - yy) // 3) % 2 == 0
    rgba[yy, xx] = GROUND
    rgba[yy[stripe], xx[stripe]] = STRIPE
    return rgba


def paint(window: Any, rgba: np.ndarray, step: int) -> np.ndarray:
    """The canvas overlay with the current image's void hatched (overlay subsampled by `step`)."""
    st = window.state
    if st is None or st.void.is_empty:
        return rgba
    return hatch_void(rgba, st.void.mask(st.shape)[::step, ::step])
