"""Panes shared by the dialogs that run a child process: its error box and its log."""
from __future__ import annotations

from PyQt5.QtGui import QFont
from PyQt5.QtWidgets import QPlainTextEdit


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
