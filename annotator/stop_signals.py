"""SIGTERM, SIGHUP and SIGINT end the annotator the way closing its window does, with the work saved.

A desktop session that logs out or shuts down sends SIGTERM; closing the terminal the annotator was started from
sends SIGHUP; Ctrl+C there sends SIGINT. By default each ended the process at once (or, for SIGINT, not before the
next Python code ran): the clicks of the object being drawn and every change since the last save were lost and
the folder's lock stayed behind. Here the signal reaches the Qt event loop through a socket (`signal.set_wakeup_fd`,
read by a `QSocketNotifier`: no polling timer) and the window closes unattended (`close_unattended`): the current
image saved, the lock released, the settings stored. `received` is the signal, for the exit status (128 + it).
"""
from __future__ import annotations

import signal
import socket
from typing import Any

from PyQt5.QtCore import QObject, QSocketNotifier

#: The signals handled (those this platform has).
SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, n))
_NUMBERS = frozenset(int(s) for s in SIGNALS)  # as the wakeup socket carries them: one byte each


class StopSignals(QObject):
    """While installed, SIGNALS close `window` unattended (see the module doc). Main thread only."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.received: int | None = None
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._write.fileno())
        # a Python-level handler must be set for the wakeup byte to be written; it does nothing itself
        self._old = {s: signal.signal(s, lambda *_: None) for s in SIGNALS}
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Read, self)
        self._notifier.activated.connect(self._on_wake)

    def _on_wake(self) -> None:
        try:
            data = self._read.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        got = [b for b in data if b in _NUMBERS]
        if got and self.received is None:
            self.received = got[0]
            self.window.close_unattended()

    def uninstall(self) -> None:
        """Restore the previous handlers and wakeup fd."""
        self._notifier.setEnabled(False)
        for s, old in self._old.items():
            signal.signal(s, old)
        signal.set_wakeup_fd(self._old_fd)
        self._read.close()
        self._write.close()


def install(window: Any) -> StopSignals:
    """Handle SIGNALS for `window` until `uninstall()`."""
    return StopSignals(window)
