"""Training → Retrain on my annotations…: fine-tune the model on the annotations saved so far.

Runs two children (never training code in the GUI process): `ifcn devkit` turns the output folder's
annotations into a VOC devkit with a held-out share (and measures the starting model on it: the
"before"), then `ifcn train --progress-json` fine-tunes; the dialog follows the JSON stream (progress bar
with ETA, loss and validation-IoU curves, log) and stays non-modal, so annotating goes on meanwhile.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtWidgets import (QAction, QApplication, QButtonGroup, QCheckBox, QComboBox, QDialog,
                             QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QProgressBar, QPushButton, QRadioButton, QSpinBox, QSplitter,
                             QVBoxLayout, QWidget)

from annotator import data_folders, label_file
from annotator.child_process import ChildProcess, ifcn_command
from annotator.widgets import dialogs
from annotator.widgets.process_panes import error_box, log_view
from models.errors import ImageReadError
from models.fileio import read_index_png

MIN_OBJECTS = 10                 # refuse to retrain on fewer finished objects
MIN_FREE_BYTES = 500 * 2 ** 20   # refuse to start with less free disk space at the runs folder
DEFAULT_BACKBONE = "efficientnet_lite0"  # its ImageNet weights ship with the install


# ---- small shared helpers (also used by the NoC dialog) ----------------------------------------------

def count_annotations(out_dir: str | os.PathLike | None) -> tuple[int, int]:
    """(annotated images, finished objects) saved under the output folder (instance PNGs)."""
    if out_dir is None:
        return 0, 0
    folder = Path(out_dir) / label_file.OBJECT_DIR
    images = objects = 0
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        try:
            ids = np.unique(read_index_png(png))
        except ImageReadError:
            continue
        n = int(((ids != 0) & (ids != label_file.VOID)).sum())
        if n:
            images += 1
            objects += n
    return images, objects


def runs_root(window: Any) -> Path:
    """Default folder for training runs: in the user's data folder, one per output folder (data_folders)."""
    return data_folders.runs_root(getattr(window, "output_dir", None))


def free_bytes(path: Path) -> int:
    """Free disk space at `path` or its nearest existing parent."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def available_devices() -> list[str]:
    """Devices usable for a child run ('cuda' only when present)."""
    try:
        from models.device import available_devices as devices
        return devices()
    except Exception:
        return ["cpu"]


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


def format_seconds(s: float | None) -> str:
    """'1:05:09' / '3:07' / '--'."""
    if s is None or not np.isfinite(s):
        return "--"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def current_checkpoint(window: Any) -> str | None:
    """The checkpoint file of the window's predictor (None for GrabCut, fakes and in-memory models)."""
    p = getattr(window, "predictor", None)
    if p is None or getattr(p, "is_classical", False):
        return None
    path = getattr(p, "checkpoint_path", None)
    return str(path) if path and Path(path).is_file() else None


def _backbones() -> list[str]:
    try:
        from models.backbones import BACKBONES
        return list(BACKBONES)
    except Exception:
        return ["efficientnet_lite0", "resnet18", "resnet50"]


# ---- the dialog ----------------------------------------------------------------------------------------

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
        self.min_objects = MIN_OBJECTS
        self.phase = "idle"                   # idle | devkit | train
        self.run_dir: Path | None = None
        self.train_argv: list[str] = []
        self.baseline: float | None = None
        self.devkit_summary: dict[str, Any] = {}
        self.status = ""                      # how the last run ended
        self.error_text = ""
        self.total_steps = 0
        self.step = 0
        self.started_at = 0.0
        self.loss_x: list[float] = []
        self.loss_y: list[float] = []
        self.val_x: list[float] = []
        self.val_y: list[float] = []
        self.end_event: dict[str, Any] = {}
        self._build()
        self.refresh_data()
        self._update_buttons()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)

        data = QGroupBox("Data")
        f = QFormLayout(data)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        f.addRow("Annotations:", self.data_label)
        self.voc_check = QCheckBox("Also train on a VOC devkit:")
        self.voc_edit = QLineEdit()
        self.voc_edit.setPlaceholderText("VOCdevkit folder (its train split is added)")
        voc_browse = QPushButton("Browse…")
        voc_browse.clicked.connect(self._browse_voc)
        row = QHBoxLayout()
        row.addWidget(self.voc_edit)
        row.addWidget(voc_browse)
        f.addRow(self.voc_check, row)
        self.holdout = QDoubleSpinBox()
        self.holdout.setRange(0.0, 0.9)
        self.holdout.setSingleStep(0.05)
        self.holdout.setValue(0.2)
        self.holdout.setToolTip("Share of the annotated images kept out of training to measure the model")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2 ** 31 - 1)
        row = QHBoxLayout()
        row.addWidget(self.holdout)
        row.addWidget(QLabel("seed"))
        row.addWidget(self.seed)
        f.addRow("Held-out share:", row)
        lay.addWidget(data)

        model = QGroupBox("Starting model")
        f = QFormLayout(model)
        self.use_current = QRadioButton("Current model")
        self.use_fresh = QRadioButton("Fresh backbone")
        grp = QButtonGroup(self)
        grp.addButton(self.use_current)
        grp.addButton(self.use_fresh)
        self.current_label = QLabel()
        self.current_label.setWordWrap(True)
        f.addRow(self.use_current, self.current_label)
        self.backbone = QComboBox()
        self.backbone.addItems(_backbones())
        self.backbone.setCurrentText(DEFAULT_BACKBONE)
        self.stride = QComboBox()
        self.stride.addItems(["8", "16", "32"])
        self.imagenet = QCheckBox("ImageNet weights")
        self.imagenet.setChecked(True)
        row = QHBoxLayout()
        row.addWidget(self.backbone, 1)
        row.addWidget(QLabel("stride"))
        row.addWidget(self.stride)
        row.addWidget(self.imagenet)
        f.addRow(self.use_fresh, row)
        self.use_current.toggled.connect(self._update_buttons)
        lay.addWidget(model)

        sched = QGroupBox("Schedule")
        f = QFormLayout(sched)
        self.by_steps = QRadioButton("Steps")
        self.by_epochs = QRadioButton("Epochs")
        self.by_steps.setChecked(True)
        grp = QButtonGroup(self)
        grp.addButton(self.by_steps)
        grp.addButton(self.by_epochs)
        self.steps = QSpinBox()
        self.steps.setRange(1, 10 ** 7)
        self.steps.setValue(300)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10 ** 5)
        self.epochs.setValue(20)
        row = QHBoxLayout()
        for w in (self.by_steps, self.steps, self.by_epochs, self.epochs):
            row.addWidget(w)
        f.addRow("Length:", row)
        self.batch = QSpinBox()
        self.batch.setRange(1, 1024)
        self.batch.setValue(8)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setSingleStep(1e-4)
        self.lr.setValue(1e-3)
        row = QHBoxLayout()
        row.addWidget(self.batch)
        row.addWidget(QLabel("learning rate"))
        row.addWidget(self.lr)
        f.addRow("Batch size:", row)
        self.crop = QSpinBox()
        self.crop.setRange(32, 2048)
        self.crop.setSingleStep(32)
        self.crop.setValue(320)
        self.val_every = QSpinBox()
        self.val_every.setRange(0, 10 ** 6)
        self.val_every.setSpecialValueText("each epoch")
        self.val_every.setValue(50)
        row = QHBoxLayout()
        row.addWidget(self.crop)
        row.addWidget(QLabel("validate every"))
        row.addWidget(self.val_every)
        row.addWidget(QLabel("steps"))
        f.addRow("Crop size:", row)
        self.device = device_combo(getattr(getattr(self.window_, "settings", None), "device", "auto"))
        f.addRow("Device:", self.device)
        self._runs_default = str(runs_root(self.window_))
        self.runs_edit = QLineEdit(self._runs_default)
        runs_browse = QPushButton("Browse…")
        runs_browse.clicked.connect(self._browse_runs)
        row = QHBoxLayout()
        row.addWidget(self.runs_edit)
        row.addWidget(runs_browse)
        f.addRow("Runs folder:", row)
        lay.addWidget(sched)
        lay.addStretch(1)

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
        plots = QHBoxLayout()
        self.loss_plot = make_plot("Training loss", "step", "loss")
        self.val_plot = make_plot("Held-out IoU", "step", "IoU")
        self.val_plot.setYRange(0, 1)
        self.val_plot.setXLink(self.loss_plot)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen((31, 119, 180), width=2))
        self.val_curve = self.val_plot.plot([], [], pen=pg.mkPen((44, 160, 44), width=2), symbol="o",
                                            symbolSize=6, symbolBrush=(44, 160, 44))
        self.before_line = pg.InfiniteLine(angle=0, pen=pg.mkPen((150, 150, 150), style=Qt.DashLine),
                                           label="before", labelOpts={"color": (110, 110, 110),
                                                                      "position": 0.1})
        self.before_line.setVisible(False)
        self.val_plot.addItem(self.before_line)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.val_plot)
        rl.addLayout(plots, 3)
        self.error_box = error_box(110)
        rl.addWidget(self.error_box)
        self.log_view = log_view(3000, "Log of the training process")
        rl.addWidget(self.log_view, 2)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        rl.addWidget(self.summary_label)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the stopped run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        self.stop_button = QPushButton("Stop")
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
        buttons.addStretch(1)
        buttons.addWidget(close)

        outer = QVBoxLayout(self)
        outer.addWidget(split, 1)
        outer.addLayout(buttons)
        self.resize(1100, 640)

    # ---- state -----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while the devkit or training child is at work."""
        return self.child.running or self.phase != "idle"

    def refresh_data(self) -> None:
        """Re-read what the output folder holds and which model is current."""
        out = getattr(self.window_, "output_dir", None)
        images, objects = count_annotations(out)
        self.annotation_counts = (images, objects)
        if out is None:
            self.data_label.setText("no folder open (File → Open Folder…)")
        else:
            self.data_label.setText(f"{out}\n{images} annotated image{'s' * (images != 1)}, "
                                    f"{objects} finished object{'s' * (objects != 1)}")
        if self.runs_edit.text() == self._runs_default:  # follow the output folder unless edited
            self._runs_default = str(runs_root(self.window_))
            self.runs_edit.setText(self._runs_default)
        ckpt = current_checkpoint(self.window_)
        p = getattr(self.window_, "predictor", None)
        if ckpt:
            self.current_label.setText(f"{getattr(p, 'name', Path(ckpt).name)}\n{ckpt}")
        else:
            why = "GrabCut has no network to fine-tune" if getattr(p, "is_classical", False) \
                else "no checkpoint file behind the current model"
            self.current_label.setText(f"unavailable: {why}")
        self.use_current.setEnabled(ckpt is not None)
        if ckpt is None:
            self.use_fresh.setChecked(True)
        elif not self.use_fresh.isChecked():
            self.use_current.setChecked(True)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.running
        train_phase = self.phase == "train"
        self.start_button.setEnabled(not busy)
        self.resume_button.setEnabled(not busy and self.status == "stopped" and self.run_dir is not None)
        self.stop_button.setEnabled(busy)
        self.kill_button.setEnabled(busy)
        self.use_button.setEnabled(not busy and self.result_checkpoint() is not None
                                   and self.status in ("completed", "stopped"))
        fresh = self.use_fresh.isChecked()
        for w in (self.backbone, self.stride, self.imagenet):
            w.setEnabled(fresh)
        self.stop_button.setText("Stop" if not train_phase else "Stop (save)")

    def result_checkpoint(self) -> Path | None:
        """best.pt of the last run (last.pt when no validation ran), if written."""
        if self.run_dir is None:
            return None
        for name in ("best.pt", "last.pt"):
            if (self.run_dir / name).is_file():
                return self.run_dir / name
        return None

    # ---- actions ---------------------------------------------------------------------------------------
    def _browse_voc(self) -> None:
        d = dialogs.choose_folder(self, "VOC devkit to add to the training data", self.voc_edit.text())
        if d:
            self.voc_edit.setText(d)
            self.voc_check.setChecked(True)

    def _browse_runs(self) -> None:
        d = dialogs.choose_folder(self, "Folder for training runs", self.runs_edit.text())
        if d:
            self.runs_edit.setText(d)

    def _refuse(self, text: str) -> bool:
        dialogs.message(self, "warning", "Cannot start training", text)
        self.status_label.setText(text)
        return False

    def start(self) -> bool:
        """Check the preconditions, then build the devkit and train; False when refused."""
        if self.running or any(d is not self and d.running for d in TrainingDialog._running):
            return self._refuse("A training run is already going. Wait for it to end, or stop it first.")
        out = getattr(self.window_, "output_dir", None)
        if out is None or getattr(self.window_, "folder", None) is None:
            return self._refuse("Open a folder of images and annotate some objects first.")
        if getattr(self.window_, "dirty", False):
            self.window_.save(quiet=True)  # the image on screen counts too
        self.refresh_data()
        images, objects = self.annotation_counts
        if objects < self.min_objects:
            return self._refuse(
                f"Only {objects} finished object{'s' * (objects != 1)} in {images} image"
                f"{'s' * (images != 1)} are saved in {out}; retraining needs at least {self.min_objects}. "
                "Annotate more objects (Space finishes one) and try again.")
        if self.voc_check.isChecked() and not Path(self.voc_edit.text()).is_dir():
            return self._refuse(f"{self.voc_edit.text() or '(empty)'}: the extra VOC devkit folder does not "
                                "exist. Pick it with Browse… or untick the option.")
        runs = Path(self.runs_edit.text()).expanduser()
        try:
            free = free_bytes(runs)
        except OSError as e:
            return self._refuse(f"{runs}: cannot check the free disk space ({e}).")
        if free < MIN_FREE_BYTES:
            return self._refuse(f"Not enough free disk space in {runs}: {free / 2 ** 20:.0f} MB free, "
                                f"at least {MIN_FREE_BYTES / 2 ** 20:.0f} MB needed for the checkpoints. "
                                "Free some space or choose another runs folder.")
        init = current_checkpoint(self.window_) if self.use_current.isChecked() else None
        if self.use_current.isChecked() and init is None:
            return self._refuse("The current model has no checkpoint file to fine-tune: choose a fresh "
                                "backbone, or load a checkpoint first (Model → Load Checkpoint…).")
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
                       "--out", str(run_dir / "devkit"), "--holdout", f"{self.holdout.value():g}",
                       "--seed", str(self.seed.value()), "--min-objects", str(self.min_objects),
                       "--progress-json"]
        if self.voc_check.isChecked():
            devkit_argv += ["--voc-root", self.voc_edit.text()]
        if init is not None:
            devkit_argv += ["--evaluate", init, "--crop-size", str(self.crop.value()),
                            "--batch-size", str(self.batch.value()), "--device", self.device.currentData()]
        self.train_argv = self._train_args(run_dir, init)
        self._log(f"$ ifcn devkit {' '.join(devkit_argv)}")
        self._set_phase("devkit")
        self.status_label.setText("Preparing the data (held-out split)…")
        self.child.start(ifcn_command("devkit", *devkit_argv))
        return True

    def _train_args(self, run_dir: Path, init: str | None) -> list[str]:
        a = ["--voc-root", str(run_dir / "devkit"), "--out", str(run_dir), "--mode", "random",
             "--batch-size", str(self.batch.value()), "--lr", f"{self.lr.value():g}",
             "--crop-size", str(self.crop.value()), "--device", self.device.currentData(),
             "--seed", str(self.seed.value()), "--workers", str(self.workers), "--progress-json", "--no-bar"]
        if self.by_steps.isChecked():
            a += ["--epochs", "0", "--max-steps", str(self.steps.value())]
        else:
            a += ["--epochs", str(self.epochs.value())]
        if self.val_every.value() > 0:
            a += ["--val-every", str(self.val_every.value())]
        if init is not None:
            a += ["--init-checkpoint", init]
        else:
            a += ["--backbone", self.backbone.currentText(), "--stride", self.stride.currentText()]
            if not self.imagenet.isChecked():
                a += ["--weights", "none"]
        return a + list(self.extra_args)

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
        self.loss_x.clear(), self.loss_y.clear(), self.val_x.clear(), self.val_y.clear()
        self.loss_curve.setData([], [])
        self.val_curve.setData([], [])
        self.before_line.setVisible(False)
        self.baseline = None
        self.devkit_summary = {}
        self.end_event = {}
        self.status = ""
        self.error_text = ""
        self.error_box.clear()
        self.error_box.setVisible(False)
        self.summary_label.clear()
        self.log_view.clear()
        self.total_steps = self.step = 0
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("preparing…")

    def _log(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    def _on_event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "devkit":
            self.devkit_summary = ev
            self._log(f"data: {ev.get('train_images')} training images ({ev.get('train_objects')} objects), "
                      f"{ev.get('val_images')} held out ({ev.get('val_objects')} objects)")
        elif kind == "baseline":
            self.baseline = ev.get("val_iou")
            if self.baseline is not None:
                self.before_line.setValue(float(self.baseline))
                self.before_line.setVisible(True)
                self.val_x.insert(0, 0)  # the curve starts at the starting model's IoU
                self.val_y.insert(0, float(self.baseline))
                self.val_curve.setData(self.val_x, self.val_y)
                self._log(f"starting model: held-out IoU {self.baseline:.3f}")
        elif kind == "start" and ev.get("command") == "train":
            self.total_steps = int(ev.get("total_steps") or 0)
            self.step = int(ev.get("step") or 0)
            self.bar.setRange(0, max(1, self.total_steps))
            self.bar.setValue(min(self.step, self.total_steps))
            self.bar.setFormat(f"step %v / %m")
            self.status_label.setText(
                f"Training {ev.get('model', {}).get('backbone', '')} on {ev.get('device')}: "
                f"{ev.get('train_samples')} objects, {ev.get('val_samples')} held out, "
                f"{self.total_steps} steps{' (resumed)' if ev.get('resumed') else ''}.")
        elif kind == "step":
            self.step = int(ev.get("step", self.step))
            self.bar.setValue(min(self.step, self.bar.maximum()))
            eta = format_seconds(ev.get("eta_s"))
            loss = ev.get("loss")
            self.bar.setFormat(f"step %v / %m — ETA {eta}")
            if loss is not None:
                self.loss_x.append(self.step)
                self.loss_y.append(float(loss))
                self.loss_curve.setData(self.loss_x, self.loss_y)
        elif kind == "val":
            if ev.get("val_iou") is not None:
                self.val_x.append(int(ev.get("step", self.step)))
                self.val_y.append(float(ev["val_iou"]))
                self.val_curve.setData(self.val_x, self.val_y)
        elif kind == "checkpoint" and ev.get("kind") == "best":
            self._log(f"saved {ev.get('kind')} checkpoint at step {ev.get('step')}: {ev.get('path')}")
        elif kind == "end" and self.phase == "train":
            self.end_event = ev
        elif kind == "error":
            self.error_text = str(ev.get("message", ""))

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
        elif code == 130 or self.end_event.get("status") == "stopped":
            self._finish("stopped", self._summary("Stopped") + " Resumable: press Resume to continue from "
                                                               f"{self.run_dir / 'last.pt'}.")
        else:
            self._fail("Training failed", code, how)

    def _summary(self, what: str) -> str:
        steps = self.end_event.get("steps", self.step)
        seconds = self.end_event.get("seconds")
        if seconds is None:
            seconds = time.monotonic() - self.started_at
        after = self.end_event.get("best_val_iou")
        before = self.baseline
        fmt = lambda v: f"{v:.3f}" if v is not None else "–"  # noqa: E731
        text = f"{what}: {steps} steps in {format_seconds(seconds)}. Held-out IoU {fmt(before)} → {fmt(after)}"
        if before is not None and after is not None:
            text += f" ({after - before:+.3f})"
        return text + "."

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
        reason = self.error_text or self.child.error_message() or (
            "the process crashed" if how == "crashed" else f"exit code {code}")
        tail = "\n".join(self.child.tail(15))
        self.error_box.setPlainText(f"{title}: {reason}\n\nLast lines of its output:\n{tail}")
        self.error_box.setVisible(True)
        self.bar.setFormat("failed")
        self._finish("failed", f"{title}: {reason}")


class TrainingTools(QObject):
    """The Training menu's entries for one window; keeps one dialog of each kind."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window_ = window
        self.training: TrainingDialog | None = None
        self.noc = None
        self.retrain_action = QAction("&Retrain on My Annotations…", window)
        self.retrain_action.setToolTip("Fine-tune the model on the annotations saved so far")
        self.retrain_action.triggered.connect(self.show_training)
        self.noc_action = QAction("&Benchmark (NoC)…", window)
        self.noc_action.setToolTip("Clicks needed to reach 85% / 90% IoU on held-out annotations")
        self.noc_action.triggered.connect(self.show_noc)
        window.add_training_action(self.retrain_action)
        window.add_training_action(self.noc_action)

    def show_training(self) -> TrainingDialog:
        """Open (or raise) the retraining dialog."""
        if self.training is None:
            self.training = TrainingDialog(self.window_)
        self.training.refresh_data()
        self.training.show()
        self.training.raise_()
        return self.training

    def show_noc(self):
        """Open (or raise) the NoC benchmark dialog."""
        from annotator.noc_dialog import NocDialog

        if self.noc is None:
            self.noc = NocDialog(self.window_, tools=self)
        self.noc.refresh_data()
        self.noc.show()
        self.noc.raise_()
        return self.noc

    def last_run_dir(self) -> Path | None:
        """The folder of the latest retraining run of this session, if any."""
        return self.training.run_dir if self.training is not None else None


def install_training_tools(window: Any) -> TrainingTools:
    """Add Retrain and Benchmark to the window's Training menu."""
    tools = TrainingTools(window)
    window.training_tools = tools
    return tools
