"""Dock listing the images of the open folder, marking the annotated, unfinished and unreadable ones."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import QDockWidget, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

DONE_MARK, UNFINISHED_MARK, BROKEN_MARK, TODO_MARK = "\u2714", "\u25d0", "\u2716", "\u2003"
#: Image states (annotator.label_file.annotation_status): mark and tooltip.
STATES = {"none": (TODO_MARK, "Not annotated yet"),
          "unfinished": (UNFINISHED_MARK, "Has unfinished work: an object was started but not finished"),
          "annotated": (DONE_MARK, "Annotated")}


class FileList(QDockWidget):
    """The image list; emits `activated(index)` when the user picks an image."""

    activated = pyqtSignal(int)
    _picked = pyqtSignal(int)

    def __init__(self, parent=None) -> None:
        super().__init__("Images", parent)
        self.setObjectName("FileListDock")
        self._paths: list[Path] = []
        self._status: list[str] = []
        self._broken: dict[int, str] = {}
        self._summary = QLabel()
        self._summary.setWordWrap(True)  # a longer count wraps: it never widens the dock (the image would jump)
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.ClickFocus)
        # The highlighted row is always the image shown: moving it (click, arrow keys) opens that image,
        # once the list has finished its own event (the window may move the highlight elsewhere, e.g. past
        # an unreadable image). No itemClicked / itemActivated: they would name the skipped row again.
        self._picked.connect(self.activated, Qt.QueuedConnection)
        self.list.currentRowChanged.connect(lambda row: row >= 0 and self._picked.emit(row))
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self._summary)
        lay.addWidget(self.list)
        self.setWidget(w)

    def set_files(self, paths: Sequence[Path], status: Sequence[str]) -> None:
        """Show these images; `status[i]` is "none", "unfinished" or "annotated" (see STATES)."""
        self._paths, self._status, self._broken = list(paths), list(status), {}
        self.list.clear()
        for i, p in enumerate(self._paths):
            self.list.addItem(QListWidgetItem(p.name))
            self._refresh(i)
        self._update_summary()

    def set_status(self, index: int, status: str) -> None:
        """Mark image `index` as "none", "unfinished" or "annotated"."""
        if 0 <= index < len(self._status):
            self._status[index] = status
            self._refresh(index)
            self._update_summary()

    def set_broken(self, index: int, reason: str = "This image could not be read.") -> None:
        """Mark image `index` as unreadable (or not annotatable, for `reason`)."""
        self._broken[index] = reason
        self._refresh(index)

    def status(self, index: int) -> str:
        """How image `index` is marked: "none", "unfinished" or "annotated"."""
        return self._status[index]

    def is_done(self, index: int) -> bool:
        """True when image `index` is marked annotated (with nothing unfinished)."""
        return self._status[index] == "annotated"

    def set_current(self, index: int) -> None:
        """Highlight image `index` without emitting `activated`."""
        self.list.blockSignals(True)
        self.list.setCurrentRow(index)
        self.list.blockSignals(False)
        item = self.list.item(index)
        if item is not None:
            self.list.scrollToItem(item)

    def _refresh(self, i: int) -> None:
        item = self.list.item(i)
        if item is None:
            return
        if i in self._broken:
            item.setText(f"{BROKEN_MARK} {self._paths[i].name}")
            item.setForeground(QBrush(QColor(200, 40, 40)))
            item.setToolTip(self._broken[i])
        else:
            mark, tip = STATES.get(self._status[i], STATES["none"])
            item.setText(f"{mark} {self._paths[i].name}")
            item.setToolTip(tip)

    def _update_summary(self) -> None:
        n = len(self._paths)
        done = self._status.count("annotated")
        unfinished = self._status.count("unfinished")
        text = f"{done} of {n} annotated" + (f", {unfinished} with unfinished work" if unfinished else "")
        self._summary.setText(text if n else "No images in this folder")  # (set_files: a folder is open)
