"""The Retrain dialog's settings: data, starting model and schedule, and the `ifcn train` arguments they make."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                             QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton, QSpinBox,
                             QVBoxLayout, QWidget)

from annotator.run_support import backbones, current_checkpoint, runs_root
from annotator.widgets import dialogs
from annotator.widgets.process_panes import device_combo

DEFAULT_BACKBONE = "efficientnet_lite0"  # its ImageNet weights ship with the install
DEFAULT_CORRECTIVE = 3  # `ifcn train --iterative` of a retrain (the shipped model's last stage used 8)


def _row(*items: QWidget | str, stretch: int = -1) -> QHBoxLayout:
    """Widgets (or label texts) side by side; item `stretch` takes the spare width."""
    row = QHBoxLayout()
    for i, w in enumerate(items):
        row.addWidget(QLabel(w) if isinstance(w, str) else w, 1 if i == stretch else 0)
    if stretch < 0:
        row.addStretch(1)
    return row


def _spin(lo: int, hi: int, value: int, step: int = 1, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


class TrainingForm(QWidget):
    """Data, Starting model and Schedule groups; `train_args` turns them into `ifcn train` arguments."""

    changed = pyqtSignal()  # the starting-model choice changed

    def __init__(self, window: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._data_group())
        lay.addWidget(self._model_group())
        lay.addWidget(self._schedule_group())
        lay.addStretch(1)

    def _data_group(self) -> QGroupBox:
        box = QGroupBox("Data")
        f = QFormLayout(box)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        f.addRow("Annotations:", self.data_label)
        self.voc_check = QCheckBox("Also train on a VOC devkit:")
        self.voc_edit = QLineEdit()
        self.voc_edit.setPlaceholderText("VOCdevkit folder")
        self.voc_edit.setToolTip("The train split of this VOC devkit is added to the training images")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_voc)
        f.addRow(self.voc_check)
        f.addRow("", _row(self.voc_edit, browse, stretch=0))
        self.holdout = QDoubleSpinBox()
        self.holdout.setRange(0.0, 0.9)
        self.holdout.setSingleStep(0.05)
        self.holdout.setValue(0.2)
        self.holdout.setToolTip("Share of the annotated images kept out of training to measure the model")
        self.seed = _spin(0, 2 ** 31 - 1, 0)
        self.seed.setToolTip("Which images are held out (the same seed, the same split)")
        f.addRow("Held-out share:", _row(self.holdout, "seed", self.seed))
        return box

    def _model_group(self) -> QGroupBox:
        box = QGroupBox("Starting model")
        f = QFormLayout(box)
        self.use_current = QRadioButton("Current model")
        self.use_fresh = QRadioButton("Fresh backbone")
        grp = QButtonGroup(self)
        grp.addButton(self.use_current)
        grp.addButton(self.use_fresh)
        self.current_label = QLabel()
        self.current_label.setWordWrap(True)
        f.addRow(self.use_current, self.current_label)
        self.backbone = QComboBox()
        self.backbone.addItems(backbones())
        self.backbone.setCurrentText(DEFAULT_BACKBONE)
        self.stride = QComboBox()
        self.stride.addItems(["8", "16", "32"])
        self.imagenet = QCheckBox("ImageNet weights")
        self.imagenet.setChecked(True)
        f.addRow(self.use_fresh, _row(self.backbone, "stride", self.stride, self.imagenet))
        self.use_current.toggled.connect(self._enable_fresh)
        self.use_current.toggled.connect(self.changed)
        return box

    def _schedule_group(self) -> QGroupBox:
        box = QGroupBox("Schedule")
        f = QFormLayout(box)
        self.by_steps = QRadioButton("Steps")
        self.by_epochs = QRadioButton("Epochs")
        self.by_steps.setChecked(True)
        grp = QButtonGroup(self)
        grp.addButton(self.by_steps)
        grp.addButton(self.by_epochs)
        self.steps = _spin(1, 10 ** 7, 300)
        self.epochs = _spin(1, 10 ** 5, 20)
        f.addRow("Length:", _row(self.by_steps, self.steps, self.by_epochs, self.epochs))
        self.batch = _spin(1, 1024, 8)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setSingleStep(1e-4)
        self.lr.setValue(1e-3)
        f.addRow("Batch size:", _row(self.batch, "learning rate", self.lr))
        self.crop = _spin(32, 2048, 320, step=32)
        self.corrective = _spin(0, 20, DEFAULT_CORRECTIVE, special="off")
        self.corrective.setToolTip(
            "Before each step, up to this many clicks placed in the model's own mistakes, as the benchmark's "
            "oracle places them (RITM-style iterative training; how the shipped model was trained). A model "
            "with the previous-mask input learns to use it only from these. Off: clicks sampled as in the "
            "iFCN paper, one step is faster")
        f.addRow("Crop size:", _row(self.crop, "pixels; corrective clicks", self.corrective))
        self.val_every = _spin(0, 10 ** 6, 50, special="each epoch")
        self.val_every.setToolTip("Measure the held-out IoU every N steps (0: at the end of each epoch)")
        f.addRow("Validate every:", _row(self.val_every, "steps"))
        self.device = device_combo(getattr(getattr(self.window_, "settings", None), "device", "auto"))
        f.addRow("Device:", _row(self.device))
        self._runs_default = str(runs_root(self.window_))
        self.runs_edit = QLineEdit(self._runs_default)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_runs)
        f.addRow("Runs folder:", _row(self.runs_edit, browse, stretch=0))
        return box

    # ---- state ------------------------------------------------------------------------------------------
    def refresh(self, images: int, objects: int) -> str | None:
        """Show the annotation counts and the current model; returns its checkpoint (None: none to fine-tune)."""
        out = getattr(self.window_, "output_dir", None)
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
        self._enable_fresh()
        return ckpt

    def _enable_fresh(self) -> None:
        fresh = self.use_fresh.isChecked()
        for w in (self.backbone, self.stride, self.imagenet):
            w.setEnabled(fresh)

    def set_enabled(self, on: bool) -> None:
        """Lock the settings while a run uses them."""
        for group in self.findChildren(QGroupBox):
            group.setEnabled(on)

    def train_args(self, run_dir: Path, init: str | None, workers: int) -> list[str]:
        """`ifcn train` arguments for a run in `run_dir` (fine-tuning `init`, else a fresh backbone)."""
        a = ["--voc-root", str(run_dir / "devkit"), "--out", str(run_dir), "--mode", "random",
             "--batch-size", str(self.batch.value()), "--lr", f"{self.lr.value():g}",
             "--crop-size", str(self.crop.value()), "--device", self.device.currentData(),
             "--seed", str(self.seed.value()), "--workers", str(workers), "--progress-json", "--no-bar"]
        if self.by_steps.isChecked():
            a += ["--epochs", "0", "--max-steps", str(self.steps.value())]
        else:
            a += ["--epochs", str(self.epochs.value())]
        if self.val_every.value() > 0:
            a += ["--val-every", str(self.val_every.value())]
        if self.corrective.value() > 0:
            a += ["--iterative", str(self.corrective.value())]
        if init is not None:
            return a + ["--init-checkpoint", init]
        a += ["--backbone", self.backbone.currentText(), "--stride", self.stride.currentText()]
        return a + ([] if self.imagenet.isChecked() else ["--weights", "none"])

    # ---- browsing ----------------------------------------------------------------------------------------
    def _browse_voc(self) -> None:
        d = dialogs.choose_folder(self, "VOC devkit to add to the training data", self.voc_edit.text())
        if d:
            self.voc_edit.setText(d)
            self.voc_check.setChecked(True)

    def _browse_runs(self) -> None:
        d = dialogs.choose_folder(self, "Folder for training runs", self.runs_edit.text())
        if d:
            self.runs_edit.setText(d)
