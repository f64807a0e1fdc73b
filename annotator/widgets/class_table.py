"""Dock with the label classes: pick the current class, add, rename and recolour classes."""
from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QAbstractItemView, QDockWidget, QHBoxLayout, QHeaderView, QPushButton,
                             QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from annotator.state import ClassTable
from annotator.widgets import dialogs
from annotator.widgets.object_list import color_icon


class ClassTableDock(QDockWidget):
    """Key, colour and name of every class; emits `classSelected` and `classesEdited`."""

    classSelected = pyqtSignal(int)  # class index
    classesEdited = pyqtSignal()

    def __init__(self, classes: ClassTable, parent=None) -> None:
        super().__init__("Classes", parent)
        self.setObjectName("ClassTableDock")
        self.classes = classes
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Key", "Class"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setFocusPolicy(Qt.ClickFocus)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.currentCellChanged.connect(self._on_current)
        self.table.cellDoubleClicked.connect(self._on_double)
        buttons = QHBoxLayout()
        for text, slot in (("Add", self.add_class), ("Rename", self.rename_selected),
                           ("Colour", self.recolor_selected)):
            b = QPushButton(text)
            b.setFocusPolicy(Qt.NoFocus)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.table)
        lay.addLayout(buttons)
        self.setWidget(w)
        self._current = 0
        self._updating = False
        self.refresh()

    def refresh(self) -> None:
        """Redraw the rows from the class table."""
        self._updating = True
        cl = self.classes.classes()
        self.table.setRowCount(len(cl))
        for r, c in enumerate(cl):
            key = QTableWidgetItem(str(r + 1) if r < 9 else "")
            key.setTextAlignment(Qt.AlignCenter)
            name = QTableWidgetItem(color_icon(c.color), c.name)
            name.setData(Qt.UserRole, c.index)
            name.setToolTip(f"index {c.index} in SegmentationClass")
            for col, it in enumerate((key, name)):
                self.table.setItem(r, col, it)
        self._updating = False
        self.set_current(self._current)

    def set_current(self, index: int) -> None:
        """Select the row of class `index` without emitting."""
        self._current = index
        self._updating = True
        for r in range(self.table.rowCount()):
            if self.table.item(r, 1).data(Qt.UserRole) == index:
                self.table.setCurrentCell(r, 1)
                break
        self._updating = False

    def selected_index(self) -> int:
        """Class index of the selected row (0 if none)."""
        r = self.table.currentRow()
        it = self.table.item(r, 1) if r >= 0 else None
        return int(it.data(Qt.UserRole)) if it is not None else 0

    def _on_current(self, row: int, *_):
        if self._updating or row < 0:
            return
        self._current = self.selected_index()
        self.classSelected.emit(self._current)

    def _on_double(self, row: int, col: int) -> None:
        self.rename_selected()

    def add_class(self) -> None:
        """Ask for a name and add a class."""
        name = dialogs.ask_text(self, "Add class", "Name of the new class:")
        if not name or not name.strip():
            return
        try:
            c = self.classes.add(name)
        except ValueError as e:
            dialogs.message(self, "warning", "Cannot add class", str(e))
            return
        self._current = c.index
        self.refresh()
        self.classesEdited.emit()
        self.classSelected.emit(c.index)

    def rename_selected(self) -> None:
        """Ask for a new name of the selected class."""
        idx = self.selected_index()
        if not idx:
            return
        name = dialogs.ask_text(self, "Rename class", "New name:", self.classes.get(idx).name)
        if name and name.strip():
            self.classes.rename(idx, name)
            self.refresh()
            self.classesEdited.emit()

    def recolor_selected(self) -> None:
        """Ask for a new colour of the selected class."""
        idx = self.selected_index()
        if not idx:
            return
        col = dialogs.ask_color(self, self.classes.get(idx).color)
        if col is not None:
            self.classes.recolor(idx, col)
            self.refresh()
            self.classesEdited.emit()
