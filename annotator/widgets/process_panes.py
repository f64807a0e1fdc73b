"""Panes shared by the dialogs that run a child process: error box, log, device choice and plots; a
default size that fits their contents."""
from __future__ import annotations

import pyqtgraph as pg
from PyQt5.QtCore import QSize
from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import QApplication, QComboBox, QPlainTextEdit, QWidget

from annotator.run_support import available_devices


def error_box(max_height: int) -> QPlainTextEdit:
    """A hidden, read-only red box for a child's error and last stderr lines."""
    box = QPlainTextEdit()
    box.setReadOnly(True)
    box.setStyleSheet("QPlainTextEdit { color: #a00000; background: #fff3f3; }")
    box.setMaximumHeight(max_height)
    box.setVisible(False)
    return box


def log_view(max_lines: int, placeholder: str = "") -> QPlainTextEdit:
    """A read-only, non-wrapping monospace log that keeps the last `max_lines` lines."""
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setMaximumBlockCount(max_lines)
    view.setLineWrapMode(QPlainTextEdit.NoWrap)
    view.setFont(QFont("monospace", 8))
    if placeholder:
        view.setPlaceholderText(placeholder)
    return view


def device_combo(current: str = "auto") -> QComboBox:
    """auto / cuda / cpu, CUDA disabled (with a tooltip) when absent."""
    box = QComboBox()
    have = available_devices()
    for dev in ("auto", "cuda", "cpu"):
        box.addItem(dev, dev)
        if dev == "cuda" and "cuda" not in have:
            item = box.model().item(box.count() - 1)
            item.setEnabled(False)
            item.setToolTip("No CUDA GPU found on this machine")
    box.setCurrentIndex(max(0, box.findData(current if current in have or current == "auto" else "auto")))
    return box


def make_plot(title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
    """A white pyqtgraph plot with labelled axes and a grid."""
    w = pg.PlotWidget(background="w")
    w.setTitle(title, color="k", size="10pt")
    for side, text in (("bottom", xlabel), ("left", ylabel)):
        ax = w.getAxis(side)
        ax.setPen("k")
        ax.setTextPen("k")
        ax.setLabel(text, color="k")
        ax.enableAutoSIPrefix(False)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setMinimumSize(220, 170)
    return w


def fit_to_screen(dialog: QWidget, width: int, height: int, available: QSize | None = None) -> None:
    """Resize `dialog` to `width` x `height`, less on a smaller screen (`available`: the primary screen's
    free area), never below what its contents need."""
    if available is None:
        screen = QApplication.primaryScreen()
        available = screen.availableGeometry().size() if screen is not None else QSize(width, height)
    want = QSize(width, height).boundedTo(available * 0.95)
    dialog.resize(want.expandedTo(dialog.minimumSizeHint()))
