"""Run an `ifcn` subcommand as a child process and turn its JSON progress lines into Qt signals.

The GUI never imports the training code: `ifcn train`, `ifcn noc` and `ifcn devkit` run in their own
process (QProcess, so nothing blocks the event loop), write one JSON object per line on stdout (see
`training/progress.py` for the format) and human output on stderr, whose last lines are kept so that a
crash can be shown. Stop = SIGTERM (the child finishes its step and saves a resumable checkpoint);
Kill = SIGKILL.
"""
from __future__ import annotations

import collections
import os
import time
from typing import Any, Sequence

from PyQt5.QtCore import QObject, QProcess, QProcessEnvironment, pyqtSignal
from PyQt5.QtWidgets import QApplication

from annotator.run_support import PROJECT_ROOT, child_environment, ifcn_command  # noqa: F401 (re-exported)
from models.progress_line import parse_line

STDERR_TAIL = 200


class ChildProcess(QObject):
    """One child process at a time; emits its progress events, output lines and how it ended."""

    started = pyqtSignal()
    progress = pyqtSignal(dict)       # a JSON progress event (not "event": that is QObject.event())
    outputLine = pyqtSignal(str)      # a stdout line that is not an event
    errorLine = pyqtSignal(str)       # a stderr line (tqdm's carriage-return updates split into lines)
    finished = pyqtSignal(int, str)   # exit code (-1 if it did not exit normally), "exited"|"crashed"|"failed to start"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.proc: QProcess | None = None
        self.argv: list[str] = []
        self.exit_code: int | None = None
        self.exit_status = ""
        self.stopping = False
        self.killed = False
        self.events: list[dict[str, Any]] = []
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self._out_buf = b""
        self._err_buf = b""
        self._start_error = ""

    # ---- control -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a child is starting or running."""
        return self.proc is not None and self.proc.state() != QProcess.NotRunning

    def start(self, argv: Sequence[str], cwd: str | os.PathLike | None = None,
              env: dict[str, str] | None = None) -> None:
        """Start `argv` (program first); RuntimeError if a child is already running."""
        if self.running:
            raise RuntimeError("a child process is already running")
        self.argv = [str(a) for a in argv]
        self.exit_code, self.exit_status = None, ""
        self.stopping = self.killed = False
        self.events.clear()
        self._tail.clear()
        self._out_buf = self._err_buf = b""
        self._start_error = ""
        proc = QProcess(self)
        penv = QProcessEnvironment()
        for k, v in child_environment(env).items():
            penv.insert(k, v)
        proc.setProcessEnvironment(penv)
        if cwd is not None:
            proc.setWorkingDirectory(str(cwd))
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        proc.started.connect(self.started.emit)
        self.proc = proc
        proc.start(self.argv[0], self.argv[1:])

    def stop(self) -> bool:
        """Ask the child to stop (SIGTERM: `ifcn train` saves last.pt and exits); False if none runs."""
        if not self.running:
            return False
        self.stopping = True
        self.proc.terminate()
        return True

    def kill(self) -> bool:
        """End the child at once (SIGKILL: nothing is saved); False if none runs."""
        if not self.running:
            return False
        self.killed = True
        self.proc.kill()
        return True

    def wait(self, timeout_s: float) -> bool:
        """Process events until the child has finished (for scripts and tests); False on timeout."""
        end = time.monotonic() + timeout_s
        while self.running and time.monotonic() < end:
            QApplication.processEvents()
            if self.proc is not None:
                self.proc.waitForFinished(20)
        QApplication.processEvents()
        return not self.running

    def tail(self, n: int = 20) -> list[str]:
        """The last `n` stderr lines."""
        return list(self._tail)[-n:]

    def error_message(self) -> str | None:
        """The message of the child's last `error` event, else its last `error:` stderr line."""
        for e in reversed(self.events):
            if e.get("event") == "error" and e.get("message"):
                return str(e["message"])
        for line in reversed(self._tail):
            if line.startswith("error:"):
                return line[len("error:"):].strip()
        return None

    # ---- reading -------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        if self.proc is None:
            return
        self._out_buf += bytes(self.proc.readAllStandardOutput())
        *lines, self._out_buf = self._out_buf.split(b"\n")
        for raw in lines:
            self._stdout_line(raw.decode("utf-8", "replace"))

    def _stdout_line(self, line: str) -> None:
        ev = parse_line(line)
        if ev is not None:
            self.events.append(ev)
            self.progress.emit(ev)
        elif line.strip():
            self.outputLine.emit(line.rstrip())

    def _read_stderr(self) -> None:
        if self.proc is None:
            return
        self._err_buf += bytes(self.proc.readAllStandardError())
        *lines, self._err_buf = self._err_buf.replace(b"\r", b"\n").split(b"\n")
        for raw in lines:
            self._stderr_line(raw.decode("utf-8", "replace"))

    def _stderr_line(self, line: str) -> None:
        line = line.rstrip()
        if line:
            self._tail.append(line)
            self.errorLine.emit(line)

    def _flush(self) -> None:
        self._read_stdout()
        self._read_stderr()
        if self._out_buf:
            self._stdout_line(self._out_buf.decode("utf-8", "replace"))
        if self._err_buf:
            self._stderr_line(self._err_buf.decode("utf-8", "replace"))
        self._out_buf = self._err_buf = b""

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.FailedToStart and self.proc is not None:
            self._start_error = self.proc.errorString()
            self._tail.append(f"error: could not start {self.argv[0]}: {self._start_error}")
            self.exit_code, self.exit_status = -1, "failed to start"
            self.finished.emit(-1, "failed to start")

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._flush()
        crashed = status == QProcess.CrashExit
        self.exit_code = -1 if crashed else int(code)
        self.exit_status = "crashed" if crashed else "exited"
        self.finished.emit(self.exit_code, self.exit_status)
