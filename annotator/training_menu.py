"""The Training menu: Retrain on My Annotations… and Benchmark (NoC)…, one dialog of each per window."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import QObject
from PyQt5.QtWidgets import QAction

from annotator.noc_dialog import NocDialog
from annotator.training_dialog import TrainingDialog


class TrainingTools(QObject):
    """The Training menu's entries for one window; keeps one dialog of each kind."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window_ = window
        self.training: TrainingDialog | None = None
        self.noc: NocDialog | None = None
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

    def show_noc(self) -> NocDialog:
        """Open (or raise) the NoC benchmark dialog."""
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
