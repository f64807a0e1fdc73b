"""The Retrain dialog's live curves: training loss and held-out IoU (with the starting model's as "before")."""
from __future__ import annotations

import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QHBoxLayout, QWidget

from annotator.training_progress import TrainingProgress
from annotator.widgets.process_panes import make_plot

VAL_TITLE = "Held-out IoU"


class TrainingCurves(QWidget):
    """Two linked plots drawn from a TrainingProgress."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = make_plot("Training loss", "step", "loss")
        self.val_plot = make_plot(VAL_TITLE, "step", "IoU")
        self.val_plot.setYRange(0, 1)
        self.val_plot.setXLink(self.loss_plot)
        self.loss_plot.setXRange(0, 1)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen((31, 119, 180), width=2))
        self.val_curve = self.val_plot.plot([], [], pen=pg.mkPen((44, 160, 44), width=2), symbol="o",
                                            symbolSize=6, symbolBrush=(44, 160, 44))
        self.before_line = pg.InfiniteLine(angle=0, pen=pg.mkPen((150, 150, 150), style=Qt.DashLine),
                                           label="before", labelOpts={"color": (110, 110, 110),
                                                                      "position": 0.1})
        self.before_line.setVisible(False)
        self.val_plot.addItem(self.before_line)
        lay.addWidget(self.loss_plot)
        lay.addWidget(self.val_plot)

    def reset(self, total_steps: int = 0) -> None:
        """Empty curves; the x axis spans the run's steps when known."""
        self.loss_curve.setData([], [])
        self.val_curve.setData([], [])
        self.before_line.setVisible(False)
        self.val_plot.setTitle(VAL_TITLE, color="k", size="10pt")
        self.loss_plot.setXRange(0, max(1, total_steps))

    def draw(self, p: TrainingProgress) -> None:
        """Show what `p` holds so far."""
        if p.total_steps:
            self.loss_plot.setXRange(0, p.total_steps, padding=0.02)
        self.loss_curve.setData(p.loss_x, p.loss_y)
        self.val_curve.setData(p.val_x, p.val_y)
        if p.baseline is not None:
            self.before_line.setValue(p.baseline)
            self.before_line.setVisible(True)
        if p.val_objects is not None:
            n = p.val_objects
            self.val_plot.setTitle(f"{VAL_TITLE} ({n} object{'s' * (n != 1)})", color="k", size="10pt")
