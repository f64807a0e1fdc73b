"""Dock listing the images of the open folder, marking the annotated, unfinished and unreadable ones."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import (QComboBox, QDockWidget, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                             QVBoxLayout, QWidget)

DONE_MARK, UNFINISHED_MARK, BROKEN_MARK, TODO_MARK = "\u2714", "\u25d0", "\u2716", "\u2003"
#: Image states (annotator.label_file.annotation_status): mark and tooltip.
STATES = {"none": (TODO_MARK, "Not annotated yet"),
          "unfinished": (UNFINISHED_MARK, "Has unfinished work: an object was started but not finished"),
          "annotated": (DONE_MARK, "Annotated")}
#: The status filter's choices: label and the states it shows (None: all).
SHOW = (("All images", None), ("Not annotated", {"none"}), ("Unfinished", {"unfinished"}),
        ("Not done", {"none", "unfinished"}), ("Annotated", {"annotated"}))


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
        self._hidden: set[int] = set()  # rows the filter hides (kept so that a switch touches two rows, not all)
        self._summary = QLabel()
        self._summary.setWordWrap(True)  # a longer count wraps: it never widens the dock (the image would jump)
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.ClickFocus)
        # The highlighted row is always the image shown: moving it (click, arrow keys) opens that image,
        # once the list has finished its own event (the window may move the highlight elsewhere, e.g. past
        # an unreadable image). No itemClicked / itemActivated: they would name the skipped row again.
        self._picked.connect(self.activated, Qt.QueuedConnection)
        self.list.currentRowChanged.connect(lambda row: row >= 0 and self._picked.emit(row))
        # the filter (labelme's file search, and which images still need work): rows are hidden, never removed,
        # so an image keeps its index; A / D go to the next image shown
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(lambda _: self._apply_filter())
        self.show_combo = QComboBox()
        self.show_combo.addItems([label for label, _ in SHOW])
        self.show_combo.setToolTip("Which images the list shows (A / D skip the others)")
        self.show_combo.currentIndexChanged.connect(lambda _: self._apply_filter())
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self._summary)
        row = QHBoxLayout()
        row.addWidget(self.filter_edit, 1)
        row.addWidget(self.show_combo)
        lay.addLayout(row)
        lay.addWidget(self.list)
        self.setWidget(w)

    def set_files(self, paths: Sequence[Path], status: Sequence[str]) -> None:
        """Show these images; `status[i]` is "none", "unfinished" or "annotated" (see STATES)."""
        self._paths, self._status, self._broken, self._hidden = list(paths), list(status), {}, set()
        self.list.clear()
        for i, p in enumerate(self._paths):
            self.list.addItem(QListWidgetItem(p.name))
            self._refresh(i)
        self._apply_filter()

    def set_status(self, index: int, status: str) -> None:
        """Mark image `index` as "none", "unfinished" or "annotated"."""
        if 0 <= index < len(self._status):
            self._status[index] = status
            self._refresh(index)
            self._show_row(index)
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

    def is_shown(self, index: int) -> bool:
        """True when image `index` passes the filter (name and status)."""
        if not 0 <= index < len(self._paths):
            return False
        text = self.filter_edit.text().strip().casefold()
        states = SHOW[max(0, self.show_combo.currentIndex())][1]
        return (not text or text in self._paths[index].name.casefold()) \
            and (states is None or self._status[index] in states)

    def _show_row(self, i: int) -> None:
        """Hide row `i` when the filter leaves it out; the image being shown always stays."""
        hide = i != self.list.currentRow() and not self.is_shown(i)
        if hide != (i in self._hidden):
            self.list.setRowHidden(i, hide)
            (self._hidden.add if hide else self._hidden.discard)(i)

    def _apply_filter(self) -> None:
        """Apply the filter to every row (it changed, or the files did)."""
        for i in range(len(self._paths)):
            self._show_row(i)
        self._update_summary()

    def set_current(self, index: int) -> None:
        """Highlight image `index` without emitting `activated`."""
        left = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.setCurrentRow(index)
        self.list.blockSignals(False)
        for i in (left, index):  # the row left may now be hidden, the new one is shown
            if 0 <= i < len(self._paths):
                self._show_row(i)
        self._update_summary()
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
        if self._hidden:
            text += f" ({n - len(self._hidden)} shown)"
        self._summary.setText(text if n else "No images in this folder")  # (set_files: a folder is open)
