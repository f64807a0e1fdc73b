"""The window's side of protecting finished objects: the menu toggle, the hatched overlap, its status line."""
from __future__ import annotations

from typing import Any

import numpy as np

from annotator.overlap import overlap_message


def set_protect(window: Any, on: bool) -> None:
    """Edit → Protect Finished Objects: remember the choice and apply it to the open image."""
    window._update_settings(protect_finished=bool(on))
    if window.state is not None:
        window.state.protect_finished = bool(on)
        window._last_current_mask = None
        window.refresh()


def hatch(window: Any, step: int) -> np.ndarray | None:
    """The current object's overlap with finished objects at the overlay's subsampling `step`, and the
    status line saying how many pixels it has and who keeps them (None when there is no overlap)."""
    st = window.state
    over = st.current_overlap() if st is not None else None
    text = overlap_message(int(over.sum()) if over is not None else 0, st is not None and st.protect_finished)
    if text != getattr(window, "_overlap_text", ""):
        window._overlap_text = text
        if text:
            window.statusBar().showMessage(text, 8000)
    return over[::step, ::step] if over is not None else None
