"""Dock with the label classes: pick the current class, search, add, rename, recolour, delete, reorder."""
from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QAbstractItemView, QDockWidget, QHBoxLayout, QHeaderView, QLineEdit, QPushButton,
                             QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from models.class_list import ClassTable
from annotator.widgets import dialogs
from annotator.widgets.object_list import color_icon


class ClassTableDock(QDockWidget):
    """Key, colour and name of every class (background first, fixed); emits what the user asks for.

    Adding, renaming and recolouring happen here (`classesEdited`); deleting and moving are asked of
    the owner (`deleteRequested`, `moveRequested`), which checks the objects that use the class.
    """

    classSelected = pyqtSignal(int)  # class index
    classesEdited = pyqtSignal()
    deleteRequested = pyqtSignal(int)       # class index
    moveRequested = pyqtSignal(int, int)    # class index, rows (-1 up, +1 down)

    def __init__(self, classes: ClassTable, parent=None) -> None:
        super().__init__("Classes", parent)
        self.setObjectName("ClassTableDock")
        self.classes = classes
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search classes…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_filter)
        self.search.returnPressed.connect(self._pick_first_match)
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
        rows = (QHBoxLayout(), QHBoxLayout())
        self.buttons: dict[str, QPushButton] = {}
        for key, text, tip, slot in (
                ("add", "Add", "Add a class", self.add_class),
                ("rename", "Rename", "Rename the selected class", self.rename_selected),
                ("colour", "Colour", "Change the colour of the selected class", self.recolor_selected),
                ("delete", "Delete", "Delete the selected class (checks the objects that use it)",
                 lambda: self._ask_selected(self.deleteRequested.emit)),
                ("up", "▲", "Move the selected class up (its number key changes, its index does not)",
                 lambda: self._ask_selected(lambda i: self.moveRequested.emit(i, -1))),
                ("down", "▼", "Move the selected class down",
                 lambda: self._ask_selected(lambda i: self.moveRequested.emit(i, +1)))):
            b = QPushButton(text)
            b.setFocusPolicy(Qt.NoFocus)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            rows[key in ("delete", "up", "down")].addWidget(b)
            self.buttons[key] = b
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.search)
        lay.addWidget(self.table)
        for row in rows:
            lay.addLayout(row)
        self.setWidget(w)
        self._current = 0
        self._updating = False
        self.refresh()

    def refresh(self) -> None:
        """Redraw the rows from the class table (background first, then the classes in display order)."""
        self._updating = True
        cl = self.classes.classes()
        self.table.setRowCount(len(cl) + 1)
        bg = QTableWidgetItem(color_icon((0, 0, 0)), "background")
        bg.setData(Qt.UserRole, 0)
        bg.setFlags(Qt.ItemIsEnabled)
        bg.setToolTip("index 0 in SegmentationClass: every pixel no object covers")
        key = QTableWidgetItem("")
        key.setFlags(Qt.ItemIsEnabled)
        self.table.setItem(0, 0, key)
        self.table.setItem(0, 1, bg)
        for r, c in enumerate(cl):
            key = QTableWidgetItem(str(r + 1) if r < 9 else "")
            key.setTextAlignment(Qt.AlignCenter)
            name = QTableWidgetItem(color_icon(c.color), c.name)
            name.setData(Qt.UserRole, c.index)
            name.setToolTip(f"index {c.index} in SegmentationClass")
            for col, it in enumerate((key, name)):
                self.table.setItem(r + 1, col, it)
        self._updating = False
        self._apply_filter(self.search.text())
        self.set_current(self._current)

    def row_names(self) -> list[str]:
        """The names shown, in order, background first (for tests and scripts)."""
        return [self.table.item(r, 1).text() for r in range(self.table.rowCount())]

    def visible_names(self) -> list[str]:
        """The class names the search leaves visible."""
        return [self.table.item(r, 1).text() for r in range(1, self.table.rowCount())
                if not self.table.isRowHidden(r)]

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for r in range(1, self.table.rowCount()):
            self.table.setRowHidden(r, bool(needle) and needle not in self.table.item(r, 1).text().casefold())
        self.table.setRowHidden(0, bool(needle))

    def _pick_first_match(self) -> None:
        for r in range(1, self.table.rowCount()):
            if not self.table.isRowHidden(r):
                self.table.setCurrentCell(r, 1)
                return

    def set_current(self, index: int) -> None:
        """Select the row of class `index` without emitting."""
        self._current = index
        self._updating = True
        self.table.setCurrentCell(-1, -1)
        for r in range(1, self.table.rowCount()):
            if self.table.item(r, 1).data(Qt.UserRole) == index:
                self.table.setCurrentCell(r, 1)
                break
        self._updating = False

    def selected_index(self) -> int:
        """Class index of the selected row (0 if none)."""
        r = self.table.currentRow()
        it = self.table.item(r, 1) if r >= 1 else None
        return int(it.data(Qt.UserRole)) if it is not None else 0

    def _ask_selected(self, then) -> None:
        idx = self.selected_index()
        if idx:
            then(idx)

    def _on_current(self, row: int, *_):
        if self._updating or row < 1:
            return
        self._current = self.selected_index()
        self.classSelected.emit(self._current)

    def _on_double(self, row: int, col: int) -> None:
        if row >= 1:
            self.rename_selected()

    def add_class(self) -> int:
        """Ask for a name and add a class (selected); its index, 0 when none was added."""
        name = dialogs.ask_text(self, "Add class", "Name of the new class:")
        if not name or not name.strip():
            return 0
        try:
            c = self.classes.add(name)
        except ValueError as e:
            dialogs.message(self, "warning", "Cannot add class", str(e))
            return 0
        self._current = c.index
        self.refresh()
        self.classesEdited.emit()
        self.classSelected.emit(c.index)
        return c.index

    def rename_selected(self) -> None:
        """Ask for a new name of the selected class."""
        idx = self.selected_index()
        if not idx:
            return
        name = dialogs.ask_text(self, "Rename class", "New name:", self.classes.get(idx).name)
        if name and name.strip():
            try:
                self.classes.rename(idx, name)
            except ValueError as e:
                dialogs.message(self, "warning", "Cannot rename class", str(e))
                return
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
