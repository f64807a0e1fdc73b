"""Dock listing the images of the open folder, marking the annotated and unreadable ones."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import QDockWidget, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

DONE_MARK, BROKEN_MARK, TODO_MARK = "\u2714", "\u2716", "\u2003"


class FileList(QDockWidget):
    """The image list; emits `activated(index)` when the user picks an image."""

    activated = pyqtSignal(int)

    def __init__(self, parent=None) -> None:
        super().__init__("Images", parent)
        self.setObjectName("FileListDock")
        self._paths: list[Path] = []
        self._done: list[bool] = []
        self._broken: dict[int, str] = {}
        self._summary = QLabel()
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.ClickFocus)
        self.list.itemActivated.connect(lambda it: self.activated.emit(self.list.row(it)))
        self.list.itemClicked.connect(lambda it: self.activated.emit(self.list.row(it)))
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self._summary)
        lay.addWidget(self.list)
        self.setWidget(w)

    def set_files(self, paths: Sequence[Path], done: Sequence[bool]) -> None:
        """Show these images; `done[i]` is True when image i already has an annotation."""
        self._paths, self._done, self._broken = list(paths), list(done), {}
        self.list.clear()
        for i, p in enumerate(self._paths):
            self.list.addItem(QListWidgetItem(p.name))
            self._refresh(i)
        self._update_summary()

    def set_done(self, index: int, done: bool) -> None:
        """Mark image `index` as annotated (or not)."""
        if 0 <= index < len(self._done):
            self._done[index] = done
            self._refresh(index)
            self._update_summary()

    def set_broken(self, index: int, reason: str = "This image could not be read.") -> None:
        """Mark image `index` as unreadable (or not annotatable, for `reason`)."""
        self._broken[index] = reason
        self._refresh(index)

    def is_done(self, index: int) -> bool:
        """True when image `index` is marked annotated."""
        return self._done[index]

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
            mark = DONE_MARK if self._done[i] else TODO_MARK
            item.setText(f"{mark} {self._paths[i].name}")
            item.setToolTip("Annotated" if self._done[i] else "Not annotated yet")

    def _update_summary(self) -> None:
        n = len(self._paths)
        self._summary.setText(f"{sum(self._done)} of {n} annotated" if n else "No folder open")
