"""Every dialog the annotator opens goes through this module, so tests can replace them.

Tests monkeypatch `message`, `ask`, `ask_text`, `ask_color` and the `choose_*` functions; callers must
call them as `dialogs.message(...)` (module attribute), never import the function itself.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (QColorDialog, QDialog, QDialogButtonBox, QFileDialog, QInputDialog, QLabel,
                             QMessageBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
                             QAbstractItemView, QHeaderView)

_ICONS = {"info": QMessageBox.Information, "warning": QMessageBox.Warning, "error": QMessageBox.Critical}


@contextmanager
def unattended() -> Iterator[None]:
    """Within: no dialog waits for an answer (the process is being ended by a signal, nobody may be there to
    answer): messages go to stderr, questions take their default, text questions are cancelled."""
    g = globals()
    saved = {k: g[k] for k in ("message", "ask", "ask_text")}
    g["message"] = lambda parent, kind, title, text: print(f"{title}: {text}", file=sys.stderr)
    g["ask"] = lambda parent, title, text, choices, default: default
    g["ask_text"] = lambda *a, **k: None
    try:
        yield
    finally:
        g.update(saved)


def message(parent: QWidget | None, kind: str, title: str, text: str) -> None:
    """Show a message box; `kind` is info, warning or error."""
    box = QMessageBox(_ICONS.get(kind, QMessageBox.Information), title, text, QMessageBox.Ok, parent)
    box.exec_()


def ask(parent: QWidget | None, title: str, text: str, choices: Sequence[str], default: str) -> str:
    """Ask a question with buttons named by `choices` (e.g. save / discard / cancel); returns the choice."""
    roles = {"save": QMessageBox.Save, "discard": QMessageBox.Discard, "cancel": QMessageBox.Cancel,
             "yes": QMessageBox.Yes, "no": QMessageBox.No, "retry": QMessageBox.Retry}
    named = {"overwrite": ("Overwrite", QMessageBox.DestructiveRole),
             "reload": ("Reload from Disk", QMessageBox.ResetRole),
             "read_only": ("Open Read-Only", QMessageBox.AcceptRole)}
    box = QMessageBox(QMessageBox.Question, title, text, QMessageBox.NoButton, parent)
    buttons = {}
    for c in choices:
        buttons[box.addButton(roles[c]) if c in roles else box.addButton(*named[c])] = c
    box.setDefaultButton(next(b for b, c in buttons.items() if c == default))
    box.exec_()
    return buttons.get(box.clickedButton(), "cancel")


def ask_text(parent: QWidget | None, title: str, label: str, value: str = "") -> str | None:
    """Ask for a line of text; None when cancelled."""
    text, ok = QInputDialog.getText(parent, title, label, text=value)
    return text if ok else None


def ask_color(parent: QWidget | None, color: Sequence[int]) -> tuple[int, int, int] | None:
    """Ask for a colour; None when cancelled."""
    c = QColorDialog.getColor(QColor(*color), parent, "Class colour")
    return (c.red(), c.green(), c.blue()) if c.isValid() else None


def choose_folder(parent: QWidget | None, title: str, start: str = "") -> str | None:
    """Ask for a folder; None when cancelled."""
    d = QFileDialog.getExistingDirectory(parent, title, start)
    return d or None


def choose_file(parent: QWidget | None, title: str, start: str = "", filters: str = "") -> str | None:
    """Ask for an existing file; None when cancelled."""
    f, _ = QFileDialog.getOpenFileName(parent, title, start, filters)
    return f or None


class KeyValueDialog(QDialog):
    """A read-only two-column table (shortcuts, model info)."""

    def __init__(self, parent: QWidget | None, title: str, rows: Sequence[tuple[str, str]],
                 header: tuple[str, str], intro: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        lay = QVBoxLayout(self)
        if intro:
            lab = QLabel(intro)
            lab.setWordWrap(True)
            lab.setTextInteractionFlags(Qt.TextSelectableByMouse)
            lay.addWidget(lab)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(list(header))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        for r, (k, v) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(k))
            item = QTableWidgetItem(v)
            item.setToolTip(v)  # a long value (a file's path) is cut to the column: the tip shows all of it
            self.table.setItem(r, 1, item)
        lay.addWidget(self.table)
        bb = QDialogButtonBox(QDialogButtonBox.Close)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.resize(520, min(640, 90 + 26 * len(rows)))

    def rows(self) -> list[tuple[str, str]]:
        """The rows shown."""
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]


def shortcuts_dialog(parent: QWidget | None, shortcuts: Sequence[tuple[str, str]]) -> KeyValueDialog:
    """The Help → Keyboard Shortcuts window (non-modal)."""
    return KeyValueDialog(parent, "Keyboard Shortcuts", shortcuts, ("Keys", "Action"))


#: Model Info's row names for the keys of `Predictor.info()` (others are shown as they are)
MODEL_INFO_LABELS = {
    "name": "model", "checkpoint": "file", "device": "device", "classical": "classical GrabCut (no network)",
    "backbone": "backbone", "stride": "FCN stride", "upsample": "upsampling", "val_iou": "validation IoU",
    "noc@85": "NoC@85 with f-BRS alone", "noc@90": "NoC@90 with f-BRS alone",
    "annotator_noc@85": "NoC@85 as the annotator runs it", "annotator_noc@90": "NoC@90 as the annotator runs it",
    "max_size": "maximum inference size (px)", "net_size": "network input (px)", "zoom_in": "zoom in on the object",
    "brs": "enforce clicks (f-BRS)", "snap": "snap to edges", "full_res": "snap at the photo's resolution",
    "learned_refiner": "learned refiner", "refine_method": "refinement (key G)", "engine": "inference engine",
    "steps": "training steps", "epochs": "training epochs", "data": "training data",
}
_VALUE_WORDS = {"net_size": {None: "the working image"}, "refine_method": {"colour": "colour", "grabcut": "GrabCut"}}


def model_info_dialog(parent: QWidget | None, info: dict[str, Any]) -> KeyValueDialog:
    """The Model → Model Info window (non-modal): the predictor's properties under readable names, switches as
    on / off."""
    rows = []
    for k, v in info.items():
        words = _VALUE_WORDS.get(k, {})
        if (v is None or isinstance(v, str)) and v in words:
            text = words[v]
        elif isinstance(v, bool):
            text = ("yes" if v else "no") if k == "classical" else ("on" if v else "off")
        else:
            text = _fmt(v)
        rows.append((MODEL_INFO_LABELS.get(k, str(k)), text))
    return KeyValueDialog(parent, "Model Info", rows, ("Property", "Value"))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)
