"""The annotator's excepthook: an exception that escapes a Qt slot is logged and shown, and the window stays.

Without it PyQt5 aborts the process on any uncaught exception in a slot, taking the user's unsaved work
with it. With it the traceback goes to a log file (`errors.log` in the application's data folder), the user
sees a message naming that file, and the window, its image and its unsaved objects stay as they were.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Callable

from PyQt5.QtCore import QObject, QStandardPaths, pyqtSignal
from PyQt5.QtWidgets import QApplication, QWidget

from annotator.widgets import dialogs

LOG_NAME = "errors.log"
#: The log is moved to `errors.log.1` when it grows over this (bytes): it never fills the disk.
LOG_MAX_BYTES = 1 << 20
#: At most one dialog in this many seconds; a slot that fails on every repaint only logs after the first.
DIALOG_INTERVAL_S = 3.0


def default_log_path() -> Path:
    """`errors.log` in the application's local data folder (the temp folder if Qt names none)."""
    base = QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation)
    return Path(base or tempfile.gettempdir()) / LOG_NAME


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.stat().st_size > LOG_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except OSError:
        pass
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


class ExceptHook(QObject):
    """A sys.excepthook that logs the traceback and shows a message instead of ending the program."""

    _report = pyqtSignal(str, str)  # (one-line error, log path): shown on the GUI thread

    def __init__(self, window: QWidget, log_path: Path | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.log_path = Path(log_path) if log_path is not None else default_log_path()
        self.count = 0
        self._showing = False
        self._last_shown = -1e9
        self._previous: Callable | None = None
        self._report.connect(self._show)

    def __call__(self, etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            QApplication.quit()
            return
        self.count += 1
        text = "".join(traceback.format_exception(etype, value, tb))
        print(text, file=sys.stderr, end="")
        where = self._log(text)
        # A signal: shown on the GUI thread even when the exception was raised on a worker thread.
        self._report.emit(f"{etype.__name__}: {value}"[:500], where)

    def _log(self, text: str) -> str:
        """Append the traceback to the log (the temp folder if that fails); the path used, or ''."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        entry = f"--- {stamp} pid {os.getpid()} thread {threading.current_thread().name}\n{text}\n"
        for path in (self.log_path, Path(tempfile.gettempdir()) / f"ifcn-annotator-{LOG_NAME}"):
            try:
                _append(path, entry)
                return str(path)
            except OSError:
                continue
        return ""

    def _show(self, error: str, where: str) -> None:
        while QApplication.overrideCursor() is not None:  # a slot that died under a wait cursor
            QApplication.restoreOverrideCursor()
        logged = f"The details were written to {where}." if where else "The details could not be written " \
                                                                       "to a log file (see the terminal)."
        bar = getattr(self.window, "statusBar", None)
        if bar is not None:
            bar().showMessage(f"Unexpected error: {error} ({logged})", 15000)
        now = time.monotonic()
        if self._showing or now - self._last_shown < DIALOG_INTERVAL_S:
            return
        self._showing = True
        try:
            dialogs.message(self.window, "error", "Unexpected error",
                            f"Something went wrong inside the annotator:\n{error}\n\n{logged}\n\n"
                            "The annotator keeps running and your unsaved work is still open: save it with "
                            "Ctrl+S. Please report the error with that file.")
        finally:
            self._showing = False
            self._last_shown = time.monotonic()

    def install(self) -> "ExceptHook":
        """Make this the process's sys.excepthook (uninstall() puts the previous one back)."""
        self._previous = sys.excepthook
        sys.excepthook = self
        return self

    def uninstall(self) -> None:
        """Restore the excepthook that was there before install()."""
        if sys.excepthook is self and self._previous is not None:
            sys.excepthook = self._previous


def install(window: QWidget, log_path: Path | None = None) -> ExceptHook:
    """Log and show every exception that escapes a Qt slot, keeping `window` (and its work) alive."""
    return ExceptHook(window, log_path).install()
