"""Training → Retrain on my annotations…: fine-tune the model on the annotations saved so far.

Runs two children (never training code in the GUI process): `ifcn devkit` turns the output folder's
annotations into a VOC devkit with a held-out share (and measures the starting model on it: the
"before"), then `ifcn train --progress-json` fine-tunes; the dialog follows the JSON stream (progress bar
with ETA, loss and validation-IoU curves, log) and stays non-modal, so annotating goes on meanwhile.
Start stays disabled, with the reason beside it, until the folder holds enough finished objects.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QApplication, QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                             QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from annotator.child_process import ChildProcess, ifcn_command
from annotator.run_support import current_checkpoint, format_seconds, free_bytes, window_annotation_counts
from annotator.training_progress import TrainingProgress
from annotator.widgets import dialogs
from annotator.widgets.process_panes import error_box, fit_to_screen, log_view
from annotator.widgets.training_form import TrainingForm
from annotator.widgets.training_plots import TrainingCurves

MIN_OBJECTS = 10                 # refuse to retrain on fewer finished objects
MIN_FREE_BYTES = 500 * 2 ** 20   # refuse to start with less free disk space at the runs folder
DEFAULT_SIZE = (1180, 680)  # less on a smaller screen


class TrainingDialog(QDialog):
    """Non-modal retraining window: settings, Start / Stop / Kill, live progress, Use this model."""

    runFinished = pyqtSignal(str)  # "completed" | "stopped" | "failed" | "killed"
    _running: set["TrainingDialog"] = set()  # every dialog with a child at work (one run at a time)

    def __init__(self, window: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent if parent is not None else window)
        self.window_ = window
        self.setWindowTitle("Retrain on my annotations")
        self.setModal(False)
        self.setAttribute(Qt.WA_DeleteOnClose, False)
        self.child = ChildProcess(self)
        self.child.progress.connect(self._on_event)
        self.child.errorLine.connect(self._log)
        self.child.outputLine.connect(self._log)
        self.child.finished.connect(self._on_child_finished)
        self.workers = min(4, max(0, (os.cpu_count() or 1) - 1))
        self.extra_args: list[str] = []       # appended to the `ifcn train` command (tests, experts)
        self._min_objects = MIN_OBJECTS
        self.annotation_counts = (0, 0)
        self.phase = "idle"                   # idle | devkit | train
        self.run_dir: Path | None = None
        self.train_argv: list[str] = []
        self.progress = TrainingProgress()
        self.status = ""                      # how the last run ended
        self.started_at = 0.0
        self._build()
        self.refresh_data()
        if hasattr(window, "saved"):  # each save may bring the count to the minimum
            window.saved.connect(lambda _path: self.isVisible() and self.refresh_data())
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.form = TrainingForm(self.window_)
        self.form.changed.connect(self._update_buttons)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setFormat("idle")
        self.bar.setValue(0)
        rl.addWidget(self.bar)
        self.status_label = QLabel("Set up the run and press Start.")
        self.status_label.setWordWrap(True)
        rl.addWidget(self.status_label)
        self.curves = TrainingCurves()
        rl.addWidget(self.curves, 3)
        self.error_box = error_box(110)
        rl.addWidget(self.error_box)
        self.log_view = log_view(3000, "Log of the training process")
        rl.addWidget(self.log_view, 2)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        rl.addWidget(self.summary_label)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.form)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.start_reason = QLabel()  # why Start is disabled
        self.start_reason.setWordWrap(True)
        self.start_reason.setStyleSheet("color: #9a5b00;")
        self.start_reason.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the stopped run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        self.stop_button = QPushButton("Stop (save)")
        self.stop_button.setToolTip("Finish the current step, save a resumable checkpoint and stop")
        self.stop_button.clicked.connect(self.stop)
        self.kill_button = QPushButton("Kill")
        self.kill_button.setToolTip("End the training process at once (nothing more is saved)")
        self.kill_button.clicked.connect(self.kill)
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Annotate with the retrained model from now on")
        self.use_button.clicked.connect(self.use_model)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.resume_button, self.stop_button, self.kill_button, self.use_button):
            buttons.addWidget(b)
        buttons.addWidget(self.start_reason, 1)
        buttons.addWidget(close)

        outer = QVBoxLayout(self)
        outer.addWidget(split, 1)
        outer.addLayout(buttons)
        fit_to_screen(self, *DEFAULT_SIZE)

    # ---- state -----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the devkit or training child is at work."""
        return self.child.running or self.phase != "idle"

    @property
    def step(self) -> int:
        """The last training step the child reported."""
        return self.progress.step

    @property
    def min_objects(self) -> int:
        """Fewest finished objects a run accepts (Start is disabled below)."""
        return self._min_objects

    @min_objects.setter
    def min_objects(self, n: int) -> None:
        self._min_objects = n
        self._update_buttons()

    def refresh_data(self) -> None:
        """Re-count the output folder's objects (the unsaved image included) and show the current model."""
        self.annotation_counts = window_annotation_counts(self.window_)
        self.form.refresh(*self.annotation_counts)
        self._update_buttons()

    def start_blocker(self) -> str:
        """Why Start cannot run now ('' when it can)."""
        if self.running:
            return ""
        if getattr(self.window_, "output_dir", None) is None or getattr(self.window_, "folder", None) is None:
            return "Open a folder of images and annotate some objects first."
        images, objects = self.annotation_counts
        if objects < self.min_objects:
            return (f"Needs at least {self.min_objects} finished objects: {objects} in {images} image"
                    f"{'s' * (images != 1)} so far. Annotate {self.min_objects - objects} more "
                    "(Space finishes one).")
        if self.form.use_current.isChecked() and current_checkpoint(self.window_) is None:
            return "The current model has no checkpoint file to fine-tune: choose a fresh backbone."
        return ""

    def _update_buttons(self) -> None:
        busy = self.running
        why = self.start_blocker()
        self.start_button.setEnabled(not busy and not why)
        self.start_button.setToolTip(why or "Build the held-out split and train")
        self.start_reason.setText(why)
        self.resume_button.setEnabled(not busy and self.status == "stopped" and self.run_dir is not None)
        self.stop_button.setEnabled(busy)
        self.kill_button.setEnabled(busy)
        self.use_button.setEnabled(not busy and self.result_checkpoint() is not None
                                   and self.status in ("completed", "stopped"))
        self.form.set_enabled(not busy)

    def result_checkpoint(self) -> Path | None:
        """best.pt of the last run (last.pt when no validation ran), if written."""
        if self.run_dir is None:
            return None
        for name in ("best.pt", "last.pt"):
            if (self.run_dir / name).is_file():
                return self.run_dir / name
        return None

    # ---- actions ---------------------------------------------------------------------------------------
    def _refuse(self, text: str) -> bool:
        dialogs.message(self, "warning", "Cannot start training", text)
        self.status_label.setText(text)
        return False

    def start(self) -> bool:
        """Check the preconditions, then build the devkit and train; False when refused."""
        if self.running or any(d is not self and d.running for d in TrainingDialog._running):
            return self._refuse("A training run is already going. Wait for it to end, or stop it first.")
        out = getattr(self.window_, "output_dir", None)
        if getattr(self.window_, "dirty", False):
            self.window_.save(quiet=True)  # the image on screen counts too
        self.refresh_data()
        why = self.start_blocker()
        if why:
            return self._refuse(why)
        f = self.form
        if f.voc_check.isChecked() and not Path(f.voc_edit.text()).is_dir():
            return self._refuse(f"{f.voc_edit.text() or '(empty)'}: the extra VOC devkit folder does not "
                                "exist. Pick it with Browse… or untick the option.")
        runs = Path(f.runs_edit.text()).expanduser()
        try:
            free = free_bytes(runs)
        except OSError as e:
            return self._refuse(f"{runs}: cannot check the free disk space ({e}).")
        if free < MIN_FREE_BYTES:
            return self._refuse(f"Not enough free disk space in {runs}: {free / 2 ** 20:.0f} MB free, "
                                f"at least {MIN_FREE_BYTES / 2 ** 20:.0f} MB needed for the checkpoints. "
                                "Free some space or choose another runs folder.")
        init = current_checkpoint(self.window_) if f.use_current.isChecked() else None
        run_dir = runs / time.strftime("run-%Y%m%d-%H%M%S")
        n = 2
        while run_dir.exists():
            run_dir = runs / (time.strftime("run-%Y%m%d-%H%M%S") + f"-{n}")
            n += 1
        try:
            run_dir.mkdir(parents=True)
        except OSError as e:
            return self._refuse(f"{run_dir}: cannot create the run folder ({e.strerror or e}).")
        self._reset_view()
        self.run_dir = run_dir
        devkit_argv = ["--annotations", str(out), "--images", str(self.window_.folder),
                       "--out", str(run_dir / "devkit"), "--holdout", f"{f.holdout.value():g}",
                       "--seed", str(f.seed.value()), "--min-objects", str(self.min_objects),
                       "--progress-json"]
        if f.voc_check.isChecked():
            devkit_argv += ["--voc-root", f.voc_edit.text()]
        if init is not None:
            devkit_argv += ["--evaluate", init, "--crop-size", str(f.crop.value()),
                            "--batch-size", str(f.batch.value()), "--device", f.device.currentData()]
        self.train_argv = f.train_args(run_dir, init, self.workers) + list(self.extra_args)
        self._log(f"$ ifcn devkit {' '.join(devkit_argv)}")
        self._set_phase("devkit")
        self.status_label.setText("Preparing the data (held-out split)…")
        self.child.start(ifcn_command("devkit", *devkit_argv))
        return True

    def resume(self) -> bool:
        """Continue the stopped run from its last.pt."""
        if self.running or self.run_dir is None or not (self.run_dir / "last.pt").is_file():
            return self._refuse("There is no stopped run to resume.")
        if any(d is not self and d.running for d in TrainingDialog._running):
            return self._refuse("A training run is already going. Wait for it to end, or stop it first.")
        self.error_box.setVisible(False)
        self.status = ""
        self._start_training(resume=True)
        return True

    def _start_training(self, resume: bool = False) -> None:
        argv = self.train_argv + (["--resume"] if resume else [])
        self._log(f"$ ifcn train {' '.join(argv)}")
        self._set_phase("train")
        self.started_at = time.monotonic()
        self.status_label.setText("Starting the training process…")
        self.bar.setFormat("starting…")
        self.child.start(ifcn_command("train", *argv))

    def stop(self) -> bool:
        """Graceful stop: the child finishes its step, saves last.pt (resumable) and exits."""
        if not self.child.running:
            return False
        self.status_label.setText("Stopping: finishing the current step and saving a checkpoint…")
        return self.child.stop()

    def kill(self) -> bool:
        """End the child at once."""
        if not self.child.running:
            return False
        self.status_label.setText("Killing the process…")
        return self.child.kill()

    def use_model(self) -> bool:
        """Load the run's best checkpoint into the annotator (no restart)."""
        ckpt = self.result_checkpoint()
        if ckpt is None:
            return False
        ok = bool(self.window_.load_checkpoint(str(ckpt)))
        if ok:
            self.status_label.setText(f"The annotator now uses {ckpt}.")
            self.refresh_data()
        return ok

    def shutdown(self, timeout_s: float = 15.0) -> None:
        """On quit: stop a running training gracefully (it saves last.pt), kill it if it hangs."""
        if self.child.running:
            self.child.stop()
            if not self.child.wait(timeout_s):
                self.child.kill()
                self.child.wait(3)

    # ---- child events ----------------------------------------------------------------------------------
    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        if phase == "idle":
            TrainingDialog._running.discard(self)
        else:
            TrainingDialog._running.add(self)
        self._update_buttons()

    def _reset_view(self) -> None:
        self.progress = TrainingProgress()
        self.curves.reset()
        self.status = ""
        self.error_box.clear()
        self.error_box.setVisible(False)
        self.summary_label.clear()
        self.log_view.clear()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("preparing…")

    def _log(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    def _on_event(self, ev: dict) -> None:
        p = self.progress
        line = p.feed(ev, self.phase)
        if line:
            self._log(line)
        kind = ev.get("event")
        if kind == "start" and ev.get("command") == "train":
            self.bar.setRange(0, max(1, p.total_steps))
            self.bar.setValue(min(p.step, p.total_steps))
            self.bar.setFormat("step %v / %m")
            self.status_label.setText(p.start_text())
        elif kind == "step":
            self.bar.setValue(min(p.step, self.bar.maximum()))
            self.bar.setFormat(f"step %v / %m — ETA {format_seconds(p.eta_s)}")
        if kind in ("devkit", "baseline", "start", "step", "val"):
            self.curves.draw(p)

    def _on_child_finished(self, code: int, how: str) -> None:
        phase = self.phase
        if phase == "devkit":
            if code == 0 and not self.child.stopping and not self.child.killed:
                self._start_training()
                return
            if self.child.stopping or self.child.killed:
                self._finish("killed", "Stopped before training began.")
            else:
                self._fail("Preparing the data failed", code, how)
            return
        if phase != "train":
            return
        if self.child.killed:
            self._finish("killed", f"Killed at step {self.step}. The last saved checkpoint (if any) is in "
                                   f"{self.run_dir}.")
        elif code == 0:
            self._finish("completed", self._summary("Completed"))
        elif code == 130 or self.progress.end.get("status") == "stopped":
            self._finish("stopped", self._summary(
                "Stopped", f"Resumable: press Resume to continue from {self.run_dir / 'last.pt'}."))
        else:
            self._fail("Training failed", code, how)

    def _summary(self, what: str, then: str = "") -> str:
        return self.progress.summary(what, time.monotonic() - self.started_at, then)

    def _finish(self, status: str, text: str) -> None:
        self.status = status
        self._set_phase("idle")
        self.summary_label.setText(text)
        self.status_label.setText(f"Run folder: {self.run_dir}" if self.run_dir is not None else "")
        if status == "completed":
            self.bar.setValue(self.bar.maximum())
            self.bar.setFormat("done: %v / %m steps")
        elif status in ("stopped", "killed"):
            self.bar.setFormat(f"{status} at step %v / %m")
        self._update_buttons()
        self.runFinished.emit(status)

    def _fail(self, title: str, code: int, how: str) -> None:
        reason = self.progress.error_text or self.child.error_message() or (
            "the process crashed" if how == "crashed" else f"exit code {code}")
        tail = "\n".join(self.child.tail(15))
        self.error_box.setPlainText(f"{title}: {reason}\n\nLast lines of its output:\n{tail}")
        self.error_box.setVisible(True)
        self.bar.setFormat("failed")
        self._finish("failed", f"{title}: {reason}")
