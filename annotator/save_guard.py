"""The window's side of folder locks and on-disk change checks: thin dialogs over folder_lock and disk_guard."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from annotator import disk_guard, folder_lock, label_file
from annotator.widgets import dialogs


def claim_folder(window: Any, out_dir: Path) -> bool:
    """Take the lock of `out_dir` for `window` (releasing its old folder's); when another annotator holds
    it, ask: open read-only or cancel. False: the user cancelled (nothing changed)."""
    out_dir = Path(out_dir)
    old = getattr(window, "_lock", None)
    if old is not None and old.path == folder_lock.lock_path(out_dir):
        return True
    token = getattr(window, "_lock_token", None)
    res = folder_lock.acquire(out_dir, token)
    window._lock_token = res.token
    read_only = False
    if not res.held:
        who = res.holder.describe() if res.holder is not None else "another annotator"
        choice = dialogs.ask(
            window, "Folder in use",
            f"{out_dir} is open in another annotator ({who}).\n\nTwo annotators saving into one folder would "
            "overwrite each other's work. Open it read-only (nothing is saved), or cancel?\n\nIf that "
            f"annotator is no longer running, delete {res.path} and open the folder again.",
            ("read_only", "cancel"), "cancel")
        if choice != "read_only":
            return False
        read_only = True
    if old is not None:
        folder_lock.release(old.path, old.token)
    window._lock = res if res.held else None
    window._read_only = read_only
    if res.note:
        window.statusBar().showMessage(res.note, 10000)
    return True


def release_folder(window: Any) -> None:
    """Give the window's folder lock back (on close)."""
    lock = getattr(window, "_lock", None)
    if lock is not None:
        folder_lock.release(lock.path, lock.token)
        window._lock = None


def _files(window: Any, image: Path) -> list[Path]:
    p = label_file.paths_for(window.output_dir, image)
    return [] if p.too_long() else [p.sidecar, p.class_png, p.object_png]


def record(window: Any, image: Path) -> None:
    """Remember the image's annotation files as they are now (after a load or a save)."""
    window._disk_seen = disk_guard.snapshot(_files(window, image)) if window.output_dir is not None else {}


def confirm_save(window: Any, image: Path, quiet: bool = False) -> bool | None:
    """May the save of `image` go ahead? True: yes. False: no (read-only, or the user cancelled).
    None: the user reloaded the files from disk instead (the window shows them; nothing to save)."""
    if getattr(window, "_read_only", False):
        text = (f"{window.output_dir} is open read-only: another annotator holds it. Nothing was saved; "
                "close that annotator and open the folder again to save here.")
        window.statusBar().showMessage(text, 10000)
        if not quiet:
            dialogs.message(window, "warning", "Read-only folder", text)
        return False
    seen = getattr(window, "_disk_seen", {})
    if not any(p in seen for p in _files(window, image)):
        record(window, image)  # e.g. after Change Output Folder: the files there as they are now
        seen = window._disk_seen
    moved = disk_guard.changed(seen)
    if not moved:
        return True
    names = "\n".join(f"  {p}" for p in moved)
    choice = dialogs.ask(
        window, "Changed on disk",
        f"The annotation of {image.name} changed on disk since it was opened (another program or annotator "
        f"wrote it):\n{names}\n\nOverwrite it with the work shown here, reload it from disk (the unsaved "
        "work here is dropped), or cancel (nothing is written, your work stays here)?",
        ("overwrite", "reload", "cancel"), "cancel")
    if choice == "overwrite":
        return True
    if choice == "reload":
        window.state.dirty = False
        window._load_image(window.index)
        window.statusBar().showMessage(f"Reloaded the annotation of {image.name} from disk.", 8000)
        return None
    window.statusBar().showMessage(f"Not saved: the annotation of {image.name} changed on disk.", 10000)
    return False
