"""Keeps what the window says about the shown image in step: the canvas's placeholder, the file list's
highlighted row, the Finish / Clear actions and the image to reopen the folder at."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from models.fileio import IMAGE_SUFFIXES

LAST_IMAGE_GROUP = "last_image"


def _folder_key(folder: str | os.PathLike) -> str:
    path = str(Path(folder).expanduser().resolve())
    return f"{LAST_IMAGE_GROUP}/{hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}"


def remember_image(store: Any, folder: str | os.PathLike, name: str) -> None:
    """Remember that `name` was the image shown last in `folder` (QSettings-like `store`)."""
    store.setValue(_folder_key(folder), name)


def last_image(store: Any, folder: str | os.PathLike) -> str | None:
    """The image shown last in `folder`, if one was remembered."""
    v = store.value(_folder_key(folder))
    return str(v) if v else None


def placeholder_text(window: Any) -> str:
    """Why the canvas is empty ("" when an image is shown)."""
    if window.state is not None:
        return ""
    if window.folder is None:
        return "No folder open.\nFile → Open Folder… (Ctrl+O)"
    if not window.images:
        kinds = " ".join(sorted(IMAGE_SUFFIXES))
        return f"No images in\n{window.folder}\n\n(looked for {kinds})\nFile → Open Folder… (Ctrl+O)"
    return (f"No image of {window.folder} could be opened.\nThe image list marks why (✖, hover for the reason).")


def sync(window: Any) -> None:
    """Make the canvas, the file list and the actions agree with the window's state (from refresh())."""
    shown = window.state is not None
    window.canvas.set_placeholder(placeholder_text(window))
    for name in ("finish", "clear"):
        window.actions_by_name[name].setEnabled(shown)
    row = window.index if shown else -1
    if window.file_list.list.currentRow() != row:
        window.file_list.set_current(row)
    if shown and window.folder is not None:
        name = window.images[window.index].name
        if getattr(window, "_remembered_image", None) != (window.folder, name):
            window._remembered_image = (window.folder, name)
            remember_image(window.store, window.folder, name)
