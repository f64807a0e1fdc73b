"""File → Open Recent: the folders opened last, kept in the settings (Qt-free list logic + the submenu)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: how many folders File → Open Recent lists
MAX_RECENT = 10


def recent_folders(stored: str) -> list[str]:
    """The folders in the settings' `recent_folders` value (a JSON list, newest first); [] for anything else."""
    try:
        data = json.loads(stored) if stored else []
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [p for p in data if isinstance(p, str) and p][:MAX_RECENT]


def with_folder(stored: str, folder: str | os.PathLike) -> str:
    """The `recent_folders` value with `folder` put first (once: the same folder by another spelling counts)."""
    new = os.path.abspath(os.fspath(folder))
    same = os.path.normcase(os.path.normpath(new))
    rest = [p for p in recent_folders(stored) if os.path.normcase(os.path.normpath(p)) != same]
    return json.dumps([new] + rest[:MAX_RECENT - 1])


def fill_menu(window: Any, menu: Any) -> None:
    """Rebuild File → Open Recent from the window's settings: one entry per folder (a folder that is gone is
    shown, greyed), then Clear Recent Folders."""
    menu.clear()
    folders = recent_folders(window.settings.recent_folders)
    for i, folder in enumerate(folders):
        text = folder.replace("&", "&&")  # a '&' in a path is not a mnemonic
        act = menu.addAction(f"&{i + 1}  {text}" if i < 9 else text)
        if Path(folder).is_dir():
            act.triggered.connect(lambda _=False, f=folder: window.open_folder(f))
        else:
            act.setText(act.text() + " (not found)")
            act.setEnabled(False)
    if not folders:
        menu.addAction("No recent folders").setEnabled(False)
    menu.addSeparator()
    clear = menu.addAction("Clear Recent Folders")
    clear.setEnabled(bool(folders))
    clear.triggered.connect(lambda: window._update_settings(recent_folders=""))
