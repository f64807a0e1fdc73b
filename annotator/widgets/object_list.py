"""Dock listing the finished objects of the image: select, relabel, hide, delete."""
from __future__ import annotations

from typing import Sequence

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QColor, QIcon, QPixmap
from PyQt5.QtWidgets import (QComboBox, QDockWidget, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton,
                             QVBoxLayout, QWidget)

from annotator.state import AnnotObject
from models.class_list import ClassTable


def color_icon(rgb: Sequence[int], size: int = 14) -> QIcon:
    """A square icon filled with an RGB colour."""
    pm = QPixmap(size, size)
    pm.fill(QColor(*rgb))
    return QIcon(pm)


class ObjectList(QDockWidget):
    """One row per finished object: its number and class; the check box shows / hides it."""

    selected = pyqtSignal(int)                 # uid (0 = none)
    visibilityChanged = pyqtSignal(int, bool)  # uid, visible
    relabelRequested = pyqtSignal(int, int)    # uid, class index
    deleteRequested = pyqtSignal(int)          # uid
    editRequested = pyqtSignal(int)            # uid

    def __init__(self, parent=None) -> None:
        super().__init__("Objects", parent)
        self.setObjectName("ObjectListDock")
        self.list = QListWidget()
        self.list.setFocusPolicy(Qt.ClickFocus)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.itemDoubleClicked.connect(lambda it: self.editRequested.emit(it.data(Qt.UserRole)))
        self.class_box = QComboBox()
        self.class_box.setFocusPolicy(Qt.ClickFocus)
        self.class_box.setToolTip("Class of the selected object")
        self.class_box.activated.connect(self._on_relabel)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setFocusPolicy(Qt.NoFocus)
        self.delete_button.clicked.connect(self._on_delete)
        row = QHBoxLayout()
        row.addWidget(self.class_box, 1)
        row.addWidget(self.delete_button)
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.list)
        lay.addLayout(row)
        self.setWidget(w)
        self._updating = False
        self._class_of: dict[int, int] = {}

    def set_objects(self, objects: Sequence[AnnotObject], classes: ClassTable, hidden: set[int]) -> None:
        """Show these objects (keeping the selection where possible)."""
        keep = self.selected_uid()
        self._updating = True
        self.list.clear()
        self._class_of = {o.uid: o.class_index for o in objects}
        for i, o in enumerate(objects, start=1):
            c = classes.get(o.class_index)
            it = QListWidgetItem(color_icon(c.color), f"#{i}  {c.name}")
            it.setData(Qt.UserRole, o.uid)
            it.setFlags(it.flags() | Qt.ItemIsUserCheckable)
            it.setCheckState(Qt.Unchecked if o.uid in hidden else Qt.Checked)
            it.setToolTip(f"{len(o.clicks)} clicks, {len(o.strokes)} brush strokes; double-click to edit")
            self.list.addItem(it)
            if o.uid == keep:
                self.list.setCurrentItem(it)
        self.class_box.clear()
        for c in classes:
            self.class_box.addItem(color_icon(c.color), c.name, c.index)
        for index in sorted(set(self._class_of.values()) - {c.index for c in classes}):
            c = classes.get(index)  # an index no class of the list has: shown, so the box never lies
            self.class_box.addItem(color_icon(c.color), c.name, c.index)
        self._updating = False
        self._sync_box()

    def selected_uid(self) -> int:
        """Uid of the selected object, 0 if none."""
        it = self.list.currentItem()
        return int(it.data(Qt.UserRole)) if it is not None else 0

    def select_uid(self, uid: int) -> None:
        """Select the row of object `uid`."""
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.UserRole) == uid:
                self.list.setCurrentRow(i)
                return

    def _sync_box(self) -> None:
        """Show the selected object's class in the class box (empty when no object is selected)."""
        uid = self.selected_uid()
        row = self.class_box.findData(self._class_of.get(uid)) if uid else -1
        blocked = self.class_box.blockSignals(True)
        self.class_box.setCurrentIndex(row)
        self.class_box.blockSignals(blocked)
        self.class_box.setEnabled(self.selected_uid() != 0)
        self.delete_button.setEnabled(self.selected_uid() != 0)

    def _on_current(self, cur, _prev) -> None:
        if self._updating:
            return
        self._sync_box()
        self.selected.emit(self.selected_uid())

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if not self._updating:
            self.visibilityChanged.emit(int(item.data(Qt.UserRole)), item.checkState() == Qt.Checked)

    def _on_relabel(self, row: int) -> None:
        uid = self.selected_uid()
        if uid and row >= 0:
            self.relabelRequested.emit(uid, int(self.class_box.itemData(row)))

    def _on_delete(self) -> None:
        uid = self.selected_uid()
        if uid:
            self.deleteRequested.emit(uid)
