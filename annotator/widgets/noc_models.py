"""The Benchmark dialog's Models group: one or two models (current, the shipped default, a checkpoint file,
the GrabCut baseline) and the refinement choice."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLineEdit, QPushButton, QWidget

from annotator.run_support import current_checkpoint, default_checkpoint
from annotator.widgets import dialogs
from annotator.widgets.noc_sources import row

CURRENT, DEFAULT, CHECKPOINT, GRABCUT, NONE = "current", "default", "checkpoint", "grabcut", "none"
REFINE_CHOICES = (("without refinement", (False,)), ("with refinement (as key G: Model → Refine with GrabCut "
                                                   "picks which)", (True,)), ("both", (False, True)))


class NocModels(QGroupBox):
    """Model 1, Model 2 (optional) and Refinement; `chosen` names what each run measures."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Models", parent)
        f = QFormLayout(self)
        self.model_a, self.path_a = self._model_row(f, "Model 1:", with_none=False)
        self.model_b, self.path_b = self._model_row(f, "Model 2:", with_none=True)
        self._b_touched = False  # Model 2 follows the current model until the user picks one
        self.model_b.activated.connect(lambda _i: setattr(self, "_b_touched", True))
        self.refine = QComboBox()
        for text, _ in REFINE_CHOICES:
            self.refine.addItem(text)
        f.addRow("Refinement:", self.refine)

    def _model_row(self, form: QFormLayout, label: str, with_none: bool) -> tuple[QComboBox, QLineEdit]:
        box = QComboBox()
        if with_none:
            box.addItem("(none)", NONE)
        box.addItem("Current model", CURRENT)
        box.addItem("Default model (shipped)", DEFAULT)
        box.addItem("Checkpoint file…", CHECKPOINT)
        box.addItem("GrabCut from clicks (classical baseline)", GRABCUT)
        path = QLineEdit()
        path.setPlaceholderText("checkpoint .pt")
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse_file(path, box))
        box.currentIndexChanged.connect(self._enable_paths)
        box.currentIndexChanged.connect(self.changed)
        path.editingFinished.connect(self.changed)
        form.addRow(label, box)
        form.addRow("", row(path, browse))
        return box, path

    def _browse_file(self, edit: QLineEdit, box: QComboBox) -> None:
        f = dialogs.choose_file(self, "Checkpoint", edit.text(), "Checkpoints (*.pt *.pth);;All files (*)")
        if f:
            edit.setText(f)
            box.setCurrentIndex(box.findData(CHECKPOINT))
            self.changed.emit()

    def _enable_paths(self) -> None:
        self.path_a.setEnabled(self.model_a.currentData() == CHECKPOINT)
        self.path_b.setEnabled(self.model_b.currentData() == CHECKPOINT)

    def refresh(self, window: Any) -> None:
        """Offer the shipped default model (disabled when not installed); while the user has not picked
        Model 2, compare a current model other than the default with it."""
        default = default_checkpoint()
        for box in (self.model_a, self.model_b):
            item = box.model().item(box.findData(DEFAULT))
            item.setEnabled(default is not None)
            item.setToolTip(str(default) if default is not None else "No default model is installed")
        current = current_checkpoint(window)
        differs = current is not None and default is not None and Path(current).resolve() != default.resolve()
        if not self._b_touched:
            self.model_b.setCurrentIndex(self.model_b.findData(DEFAULT if differs else NONE))
        self._enable_paths()

    def choice(self, box: QComboBox, path: QLineEdit, window: Any) -> tuple[str, str | None] | None:
        """(label, --checkpoint value) of a model choice; None for '(none)'; ValueError when unusable."""
        kind = box.currentData()
        if kind == NONE:
            return None
        if kind == GRABCUT:
            return "GrabCut baseline", "grabcut"
        if kind == DEFAULT:
            default = default_checkpoint()
            if default is None:
                raise ValueError("No default model is installed: choose another model.")
            return "default model", str(default)
        if kind == CHECKPOINT:
            p = path.text().strip()
            if not p or not Path(p).is_file():
                raise ValueError(f"{p or '(empty)'}: no such checkpoint file.")
            return Path(p).name, p
        p = getattr(window, "predictor", None)
        if p is None:
            raise ValueError("No model is loaded in the annotator.")
        if getattr(p, "is_classical", False):
            return "current (GrabCut)", "grabcut"
        ckpt = current_checkpoint(window)
        return (f"current ({Path(ckpt).name})", ckpt) if ckpt else ("current (default model)", None)

    def chosen(self, window: Any) -> list[tuple[str, str | None]]:
        """Model 1 and, if set, Model 2 as (label, --checkpoint value); ValueError when one is unusable."""
        picks = (self.choice(self.model_a, self.path_a, window), self.choice(self.model_b, self.path_b, window))
        return [m for m in picks if m is not None]

    def refines(self) -> tuple[bool, ...]:
        """Without and/or with refinement (the annotator's method: colour, or GrabCut)."""
        return REFINE_CHOICES[self.refine.currentIndex()][1]
