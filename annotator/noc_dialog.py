"""Training → Benchmark (NoC)…: clicks needed to reach 85% / 90% IoU, measured by `ifcn noc` children.

Data: the held-out images of a retraining run (its devkit's val split), every annotated image of the
output folder (made into a devkit by `ifcn devkit --holdout 1` first), any VOC devkit, or a benchmark
folder (`images/` + `masks/`, e.g. GrabCut or Berkeley: `ifcn noc --data DIR`). The folder's layout is
checked by an `ifcn noc --data DIR --check-data` child as soon as it is chosen, and the line it prints
(the layout detected, or why the folder is refused) is shown before anything runs. One or two
models (current, another checkpoint, the GrabCut baseline), with and/or without GrabCut refinement;
each combination is one `ifcn noc --progress-json` child whose `object` events fill the mIoU-vs-clicks
curves live. At the end the results folder holds each run's own files (summary.json, per_object.csv,
miou_vs_clicks.png in a subfolder) plus the combined summary.csv, summary.json and miou_vs_clicks.png.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QAbstractItemView, QButtonGroup, QComboBox, QDialog, QFormLayout, QGroupBox,
                             QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar,
                             QPushButton, QRadioButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
                             QVBoxLayout, QWidget)

from annotator import data_folders
from annotator.child_process import ChildProcess, ifcn_command
from annotator.training_dialog import (count_annotations, current_checkpoint, device_combo,
                                       make_plot)
from annotator.widgets import dialogs
from annotator.widgets.process_panes import error_box, log_view
from models.fileio import atomic_write_text

CURRENT, CHECKPOINT, GRABCUT, NONE = "current", "checkpoint", "grabcut", "none"
REFINE_CHOICES = (("without GrabCut", (False,)), ("with GrabCut", (True,)), ("both", (False, True)))
COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75)]
TABLE_COLUMNS = ("run", "objects", "NoC@85", "NoC@90", "failed@85", "failed@90", "mIoU@1", "mIoU@5")


@dataclass
class NocRun:
    """One `ifcn noc` child: a model with or without refinement, and what it reported."""

    label: str
    checkpoint: str | None  # None = the default model, "grabcut" = classical baseline
    refine: bool
    out: Path
    ious: list[list[float]] = field(default_factory=list)
    images_total: int = 0
    images_seen: set = field(default_factory=set)
    end: dict[str, Any] = field(default_factory=dict)
    status: str = "waiting"

    def curve(self, max_clicks: int) -> list[float]:
        """mIoU after clicks 1..max_clicks over the objects so far (last IoU carried forward)."""
        if not self.ious:
            return []
        rows = [(o + [o[-1]] * max_clicks)[:max_clicks] if o else [0.0] * max_clicks for o in self.ious]
        return [float(v) for v in np.mean(np.array(rows, dtype=np.float64), axis=0)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "run"


class NocDialog(QDialog):
    """Non-modal NoC benchmark window: data, models, refinement; live curves; final table and files."""

    benchmarkFinished = pyqtSignal(str)  # "completed" | "stopped" | "failed"

    def __init__(self, window: Any, tools: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent if parent is not None else window)
        self.window_ = window
        self.tools = tools
        self.setWindowTitle("Benchmark (NoC)")
        self.setModal(False)
        self.child = ChildProcess(self)
        self.child.progress.connect(self._on_event)
        self.child.errorLine.connect(self._log)
        self.child.finished.connect(self._on_child_finished)
        self.probe = ChildProcess(self)  # `ifcn noc --check-data` on the chosen benchmark folder
        self.probe.progress.connect(self._on_probe_event)
        self.probe.finished.connect(self._on_probe_finished)
        self.layout_check: tuple[str, bool | None, str] = ("", None, "")  # (folder, usable, what it said)
        self.runs: list[NocRun] = []
        self.queue: list[NocRun] = []
        self.current: NocRun | None = None
        self.results_dir: Path | None = None
        self.data_args: list[str] = []
        self.phase = "idle"  # idle | devkit | noc
        self.status = ""
        self.error_text = ""
        self.max_clicks = 20
        self.curves: dict[int, pg.PlotDataItem] = {}
        self._auto_run = ""
        self._build()
        self.refresh_data()
        self._update_buttons()

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)

        data = QGroupBox("Data")
        f = QFormLayout(data)
        self.src_heldout = QRadioButton("Held-out images of a retraining run")
        self.src_all = QRadioButton("All annotated images in the output folder")
        self.src_voc = QRadioButton("A VOC devkit")
        self.src_folder = QRadioButton("A benchmark folder (images/ + masks/)")
        grp = QButtonGroup(self)
        for b in (self.src_heldout, self.src_all, self.src_voc, self.src_folder):
            grp.addButton(b)
            b.toggled.connect(self._update_buttons)
        self.run_edit = QLineEdit()
        self.run_edit.setPlaceholderText("run folder (holding devkit/)")
        run_browse = QPushButton("Browse…")
        run_browse.clicked.connect(lambda: self._browse(self.run_edit, "Retraining run folder"))
        f.addRow(self.src_heldout)
        f.addRow("Run:", self._row(self.run_edit, run_browse))
        self.all_label = QLabel()
        f.addRow(self.src_all)
        f.addRow("", self.all_label)
        self.voc_edit = QLineEdit()
        self.voc_edit.setPlaceholderText("VOCdevkit folder")
        voc_browse = QPushButton("Browse…")
        voc_browse.clicked.connect(lambda: self._browse(self.voc_edit, "VOC devkit"))
        self.split_edit = QLineEdit("val")
        self.split_edit.setMaximumWidth(70)
        f.addRow(self.src_voc)
        f.addRow("Devkit:", self._row(self.voc_edit, voc_browse, QLabel("split"), self.split_edit))
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("folder holding images/ and masks/<stem>_<k>.png")
        self.folder_edit.editingFinished.connect(self.check_folder)
        folder_browse = QPushButton("Browse…")
        folder_browse.clicked.connect(self._browse_benchmark_folder)
        self.layout_label = QLabel()
        self.layout_label.setWordWrap(True)
        f.addRow(self.src_folder)
        f.addRow("Folder:", self._row(self.folder_edit, folder_browse))
        f.addRow("", self.layout_label)
        self.src_folder.toggled.connect(lambda on: on and self.check_folder())
        lay.addWidget(data)

        models = QGroupBox("Models")
        f = QFormLayout(models)
        self.model_a, self.path_a = self._model_row(f, "Model 1:", with_none=False)
        self.model_b, self.path_b = self._model_row(f, "Model 2:", with_none=True)
        self.refine = QComboBox()
        for text, _ in REFINE_CHOICES:
            self.refine.addItem(text)
        f.addRow("Refinement:", self.refine)
        lay.addWidget(models)

        opts = QGroupBox("Protocol and output")
        f = QFormLayout(opts)
        self.clicks = QSpinBox()
        self.clicks.setRange(1, 100)
        self.clicks.setValue(20)
        self.limit = QSpinBox()
        self.limit.setRange(0, 10 ** 6)
        self.limit.setSpecialValueText("all")
        self.device = device_combo(getattr(getattr(self.window_, "settings", None), "device", "auto"))
        f.addRow("Clicks per object:", self._row(self.clicks, QLabel("objects"), self.limit))
        f.addRow("Device:", self.device)
        self.out_edit = QLineEdit()
        out_browse = QPushButton("Browse…")
        out_browse.clicked.connect(lambda: self._browse(self.out_edit, "Folder for the results"))
        f.addRow("Results folder:", self._row(self.out_edit, out_browse))
        lay.addWidget(opts)
        lay.addStretch(1)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setFormat("idle")
        rl.addWidget(self.bar)
        self.status_label = QLabel("Choose the data and the models, then press Start.")
        self.status_label.setWordWrap(True)
        rl.addWidget(self.status_label)
        self.plot = make_plot("mIoU vs number of clicks", "clicks", "mIoU")
        self.plot.setYRange(0, 1)
        self.plot.addLegend(offset=(-10, -10), labelTextColor="k")
        for t in (0.85, 0.90):
            self.plot.addItem(pg.InfiniteLine(t, angle=0, pen=pg.mkPen((160, 160, 160), style=Qt.DashLine)))
        rl.addWidget(self.plot, 3)
        self.table = QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        for c in range(1, len(TABLE_COLUMNS)):
            self.table.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self._fit_table()
        rl.addWidget(self.table)
        self.error_box = error_box(100)
        rl.addWidget(self.error_box)
        self.log_view = log_view(2000)
        self.log_view.setMaximumHeight(110)
        rl.addWidget(self.log_view)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        outer = QVBoxLayout(self)
        outer.addWidget(split, 1)
        outer.addLayout(buttons)
        self.resize(1100, 640)

    @staticmethod
    def _row(*widgets: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        for i, w in enumerate(widgets):
            row.addWidget(w, 1 if isinstance(w, QLineEdit) and i == 0 else 0)
        return row

    def _model_row(self, form: QFormLayout, label: str, with_none: bool) -> tuple[QComboBox, QLineEdit]:
        box = QComboBox()
        if with_none:
            box.addItem("(none)", NONE)
        box.addItem("Current model", CURRENT)
        box.addItem("Checkpoint file…", CHECKPOINT)
        box.addItem("GrabCut from clicks (classical baseline)", GRABCUT)
        path = QLineEdit()
        path.setPlaceholderText("checkpoint .pt")
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse_file(path, box))
        box.currentIndexChanged.connect(self._update_buttons)
        form.addRow(label, box)
        form.addRow("", self._row(path, browse))
        return box, path

    def _browse(self, edit: QLineEdit, title: str) -> None:
        d = dialogs.choose_folder(self, title, edit.text())
        if d:
            edit.setText(d)

    def _browse_benchmark_folder(self) -> None:
        d = dialogs.choose_folder(self, "Benchmark folder (images/ + masks/)", self.folder_edit.text())
        if d:
            self.folder_edit.setText(d)
            self.src_folder.setChecked(True)
            self.check_folder()

    def _browse_file(self, edit: QLineEdit, box: QComboBox) -> None:
        f = dialogs.choose_file(self, "Checkpoint", edit.text(), "Checkpoints (*.pt *.pth);;All files (*)")
        if f:
            edit.setText(f)
            box.setCurrentIndex(box.findData(CHECKPOINT))

    # ---- state ----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a child is at work."""
        return self.child.running or self.phase != "idle"

    def refresh_data(self) -> None:
        """Fill in defaults from the window: latest run, annotation counts, results folder."""
        out = getattr(self.window_, "output_dir", None)
        images, objects = count_annotations(out)
        self.all_label.setText(f"{images} images, {objects} finished objects" if out is not None
                               else "no folder open")
        run = self.tools.last_run_dir() if self.tools is not None else None
        if run is None and out is not None:
            runs = data_folders.run_dirs(out)
            run = runs[-1] if runs else None
        if run is not None and self.run_edit.text() in ("", self._auto_run):  # unless the user chose one
            self._auto_run = str(run)
            self.run_edit.setText(self._auto_run)
        if not (self.src_heldout.isChecked() or self.src_all.isChecked() or self.src_voc.isChecked()):
            (self.src_heldout if run is not None else self.src_all).setChecked(True)
        if not self.out_edit.text() or not self.running:
            base = data_folders.noc_results_root(out)  # the user's data folder, not the image folder
            self.out_edit.setText(str(base / time.strftime("noc-%Y%m%d-%H%M%S")))
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.running
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.path_a.setEnabled(self.model_a.currentData() == CHECKPOINT)
        self.path_b.setEnabled(self.model_b.currentData() == CHECKPOINT)

    # ---- actions ---------------------------------------------------------------------------------------
    def _refuse(self, text: str) -> bool:
        dialogs.message(self, "warning", "Cannot start the benchmark", text)
        self.status_label.setText(text)
        return False

    def _model(self, box: QComboBox, path: QLineEdit) -> tuple[str, str | None] | None:
        """(label, --checkpoint value) of a model choice; None for '(none)'; ValueError when unusable."""
        kind = box.currentData()
        if kind == NONE:
            return None
        if kind == GRABCUT:
            return "GrabCut baseline", "grabcut"
        if kind == CHECKPOINT:
            p = path.text().strip()
            if not p or not Path(p).is_file():
                raise ValueError(f"{p or '(empty)'}: no such checkpoint file.")
            return Path(p).name, p
        p = getattr(self.window_, "predictor", None)
        if p is None:
            raise ValueError("No model is loaded in the annotator.")
        if getattr(p, "is_classical", False):
            return "current (GrabCut)", "grabcut"
        ckpt = current_checkpoint(self.window_)
        return (f"current ({Path(ckpt).name})", ckpt) if ckpt else ("current (default model)", None)

    def plan(self) -> list[NocRun]:
        """The runs Start would make (ValueError with a reason when the choices are unusable)."""
        out = Path(self.out_edit.text()).expanduser()
        models = [m for m in (self._model(self.model_a, self.path_a), self._model(self.model_b, self.path_b))
                  if m is not None]
        refines = REFINE_CHOICES[self.refine.currentIndex()][1]
        runs: list[NocRun] = []
        for label, ckpt in models:
            for refine in refines:
                if ckpt == "grabcut" and refine:
                    continue  # the classical baseline is GrabCut already
                full = f"{label} + GrabCut" if refine else label
                if any(r.label == full for r in runs):
                    continue
                runs.append(NocRun(full, ckpt, refine, out / f"{len(runs) + 1}_{_slug(full)}"))
        if not runs:
            raise ValueError("Nothing to run: with GrabCut refinement only, the GrabCut baseline has no "
                             "refined variant. Choose 'without GrabCut' or 'both'.")
        return runs

    def start(self) -> bool:
        """Check the choices, then run every planned benchmark one after the other."""
        if self.running:
            return self._refuse("A benchmark is already running.")
        try:
            runs = self.plan()
        except ValueError as e:
            return self._refuse(str(e))
        results = Path(self.out_edit.text()).expanduser()
        if results.exists() and any(results.iterdir()):
            return self._refuse(f"{results}: the results folder is not empty; choose a new folder.")
        try:
            results.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return self._refuse(f"{results}: cannot create the results folder ({e.strerror or e}).")
        devkit_argv: list[str] | None = None
        if self.src_heldout.isChecked():
            devkit = Path(self.run_edit.text()) / "devkit"
            if not (devkit / "ImageSets" / "Segmentation" / "val.txt").is_file():
                return self._refuse(f"{self.run_edit.text() or '(empty)'}: not a retraining run folder (no "
                                    "devkit/ with a val split). Retrain first, or choose other data.")
            self.data_args = ["--voc-root", str(devkit), "--split", "val"]
        elif self.src_voc.isChecked():
            if not Path(self.voc_edit.text()).is_dir():
                return self._refuse(f"{self.voc_edit.text() or '(empty)'}: no such VOC devkit folder.")
            self.data_args = ["--voc-root", self.voc_edit.text(), "--split", self.split_edit.text() or "val"]
        elif self.src_folder.isChecked():
            folder = self.folder_edit.text().strip()
            if not folder or not Path(folder).is_dir():
                return self._refuse(f"{folder or '(empty)'}: no such benchmark folder.")
            checked, usable, said = self.layout_check
            if checked == folder and usable is False:
                return self._refuse(said)
            self.data_args = ["--data", folder]  # the child says which layout it found, or refuses
        else:
            out = getattr(self.window_, "output_dir", None)
            if out is None or getattr(self.window_, "folder", None) is None:
                return self._refuse("Open a folder of images and annotate some objects first.")
            if getattr(self.window_, "dirty", False):
                self.window_.save(quiet=True)
            if count_annotations(out)[1] == 0:
                return self._refuse(f"No finished objects are saved in {out} yet.")
            devkit_argv = ["--annotations", str(out), "--images", str(self.window_.folder),
                           "--out", str(results / "devkit"), "--holdout", "1", "--min-objects", "1",
                           "--progress-json"]
            self.data_args = ["--voc-root", str(results / "devkit"), "--split", "val"]
        self._reset_view()
        self.results_dir = results
        self.max_clicks = self.clicks.value()
        self.runs = runs
        self.queue = list(runs)
        for i, r in enumerate(runs):
            self.table.insertRow(i)
            self._set_row(i, r)
        self._fit_table()
        self.plot.getAxis("bottom").setTickSpacing(major=1 if self.max_clicks <= 20 else 5, minor=1)
        self.plot.setXRange(1, max(2, self.max_clicks), padding=0.03)
        if devkit_argv is not None:
            self.phase = "devkit"
            self.status_label.setText("Collecting the annotated images…")
            self._log(f"$ ifcn devkit {' '.join(devkit_argv)}")
            self.child.start(ifcn_command("devkit", *devkit_argv))
        else:
            self._next()
        self._update_buttons()
        return True

    def _next(self) -> None:
        if not self.queue:
            self._finish("completed")
            return
        run = self.queue.pop(0)
        self.current = run
        run.status = "running"
        argv = self.noc_argv(run)
        self.phase = "noc"
        i = self.runs.index(run)
        self.status_label.setText(f"Run {i + 1} of {len(self.runs)}: {run.label}…")
        self.bar.setRange(0, 0)
        self._log(f"$ ifcn noc {' '.join(argv)}")
        self.child.start(ifcn_command("noc", *argv))

    def noc_argv(self, run: NocRun) -> list[str]:
        """`ifcn noc` arguments of `run`: the chosen data and options, and the predictor as the annotator
        runs it now (Maximum Inference Size, Zoom In on the Object, Enforce Clicks)."""
        from models.predictor import ZoomIn

        settings = self.window_.settings
        argv = [*self.data_args, "--out", str(run.out), "--max-clicks", str(self.max_clicks),
                "--device", self.device.currentData(), "--progress-json", "--max-size", str(settings.max_size),
                "--zoom-in", str(ZoomIn().target if settings.zoom_in else 0),
                "--brs" if settings.brs else "--no-brs"]
        if run.checkpoint is not None:
            argv += ["--checkpoint", run.checkpoint]
        if run.refine:
            argv.append("--refine")
        if self.limit.value() > 0:
            argv += ["--limit", str(self.limit.value())]
        return argv

    def stop(self) -> bool:
        """Stop the running benchmark (the runs already finished keep their files)."""
        if not self.running:
            return False
        self.queue.clear()
        self.status = "stopped"
        self.child.stop()  # SIGTERM: `ifcn noc` has nothing to save, the finished runs keep their files
        return True

    # ---- the benchmark folder's layout -------------------------------------------------------------
    def check_folder(self) -> None:
        """Ask an `ifcn noc --data DIR --check-data` child which layout the chosen folder has."""
        folder = self.folder_edit.text().strip()
        if self.layout_check[0] == folder and self.layout_check[1] is not None:
            return  # already checked
        if not folder:
            self.layout_check = ("", None, "")
            self.layout_label.setText("")
            return
        if self.probe.running:  # a check of an earlier choice: _on_probe_finished checks this one next
            self.probe.kill()
            return
        self.layout_check = (folder, None, "")
        self.layout_label.setText("Checking the folder…")
        self.probe.start(ifcn_command("noc", "--data", folder, "--check-data", "--progress-json"))

    def _on_probe_event(self, ev: dict) -> None:
        if ev.get("event") == "data" and self.layout_check[1] is None:
            self.layout_check = (self.layout_check[0], True, str(ev.get("text", "")))

    def _on_probe_finished(self, code: int, how: str) -> None:
        folder, usable, said = self.layout_check
        if folder != self.folder_edit.text().strip() or self.probe.killed:
            self.layout_check = ("", None, "")
            self.check_folder()  # the choice changed meanwhile
            return
        if code != 0 or not usable:
            said = self.probe.error_message() or ("\n".join(self.probe.tail(3)) or f"exit code {code}")
            usable = False
        self.layout_check = (folder, usable, said)
        self._show_layout()

    def _show_layout(self) -> None:
        _, usable, said = self.layout_check
        self.layout_label.setText(f"Detected: {said}" if usable else f"Refused: {said}")
        self.layout_label.setStyleSheet("" if usable else "color: #b00020;")

    # ---- child events ----------------------------------------------------------------------------------
    def _reset_view(self) -> None:
        self.table.setRowCount(0)
        for item in self.curves.values():
            self.plot.removeItem(item)
        self.curves.clear()
        self.error_box.setVisible(False)
        self.error_text = ""
        self.status = ""
        self.log_view.clear()

    def _log(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    def _on_event(self, ev: dict) -> None:
        kind, run = ev.get("event"), self.current
        if kind == "error":
            self.error_text = str(ev.get("message", ""))
        if run is None or self.phase != "noc":
            return
        if kind in ("data", "error") and self.data_args[:1] == ["--data"] and \
                (kind == "data" or self.layout_check[1] is not True):
            self.layout_check = (self.data_args[-1], kind == "data", str(ev.get("text") or ev.get("message")))
            self._show_layout()
        if kind == "start":
            run.images_total = int(ev.get("images") or 0)
            self.bar.setRange(0, max(1, run.images_total))
            self.bar.setValue(0)
            self.bar.setFormat(f"{run.label}: image %v / %m")
        elif kind in ("object", "skipped"):
            run.images_seen.add(ev.get("image"))
            self.bar.setValue(len(run.images_seen))
            if kind == "object":
                run.ious.append([float(v) for v in ev.get("ious", [])])
                self._draw(run)
                self._set_row(self.runs.index(run), run)
        elif kind == "end":
            run.end = ev

    def _fit_table(self) -> None:
        rows = max(2, self.table.rowCount())
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height()
                                  + rows * self.table.verticalHeader().defaultSectionSize() + 4)

    def _draw(self, run: NocRun) -> None:
        i = self.runs.index(run)
        y = run.curve(self.max_clicks)
        x = list(range(1, len(y) + 1))
        if i not in self.curves:
            color = COLORS[i % len(COLORS)]
            self.curves[i] = self.plot.plot(x, y, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5,
                                            symbolBrush=color, name=run.label)
        else:
            self.curves[i].setData(x, y)

    def _set_row(self, row: int, run: NocRun) -> None:
        e = run.end
        curve = run.curve(self.max_clicks)
        fmt = lambda v: "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))  # noqa: E731
        cells = [run.label + ("" if run.status in ("done", "running") else f" ({run.status})"),
                 str(len(run.ious)), fmt(e.get("noc@85")), fmt(e.get("noc@90")), fmt(e.get("failed@85")),
                 fmt(e.get("failed@90")), fmt(curve[0] if curve else None),
                 fmt(curve[4] if len(curve) >= 5 else None)]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if c:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            self.table.setItem(row, c, item)

    def _on_child_finished(self, code: int, how: str) -> None:
        if self.phase == "devkit":
            if code == 0:
                self._next()
            elif self.status == "stopped":
                self._finish("stopped")
            else:
                self._fail("Collecting the annotations failed", code, how)
            return
        run = self.current
        if run is None:
            return
        if code == 0:
            run.status = "done"
            self._set_row(self.runs.index(run), run)
            self._next()
        elif self.status == "stopped":
            run.status = "stopped"
            self._set_row(self.runs.index(run), run)
            self._finish("stopped")
        else:
            run.status = "failed"
            self._set_row(self.runs.index(run), run)
            self._fail(f"Benchmark of {run.label} failed", code, how)

    def _fail(self, title: str, code: int, how: str) -> None:
        reason = self.error_text or self.child.error_message() or (
            "the process crashed" if how == "crashed" else f"exit code {code}")
        tail = "\n".join(self.child.tail(12))
        self.error_box.setPlainText(f"{title}: {reason}\n\nLast lines of its output:\n{tail}")
        self.error_box.setVisible(True)
        self.queue.clear()
        self._finish("failed", f"{title}: {reason}")

    def _finish(self, status: str, text: str = "") -> None:
        self.status = status
        self.phase = "idle"
        self.current = None
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if status == "completed" else 0)
        self.bar.setFormat(status)
        written = self.write_results()
        if not text:
            text = {"completed": "Done.", "stopped": "Stopped."}.get(status, status)
        if written:
            text += f" Results in {self.results_dir}."
        self.status_label.setText(text)
        self._update_buttons()
        self.benchmarkFinished.emit(status)

    # ---- results ---------------------------------------------------------------------------------------
    def summaries(self) -> list[dict[str, Any]]:
        """One summary per finished run (label, model, refine, NoC, failures, mIoU curve)."""
        out = []
        for r in self.runs:
            if r.status != "done":
                continue
            e = r.end
            out.append({"label": r.label, "checkpoint": r.checkpoint or "default", "refine": r.refine,
                        "objects": e.get("objects", len(r.ious)), "noc@85": e.get("noc@85"),
                        "noc@90": e.get("noc@90"), "failed@85": e.get("failed@85"),
                        "failed@90": e.get("failed@90"),
                        "miou_per_click": e.get("miou_per_click") or r.curve(self.max_clicks),
                        "folder": str(r.out)})
        return out

    def write_results(self) -> list[Path]:
        """Write summary.json, summary.csv and miou_vs_clicks.png into the results folder."""
        rows = self.summaries()
        if self.results_dir is None or not rows:
            return []
        d = self.results_dir
        try:
            atomic_write_text(d / "summary.json", json.dumps(rows, indent=2) + "\n")
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            keys = ["label", "checkpoint", "refine", "objects", "noc@85", "noc@90", "failed@85", "failed@90"]
            w.writerow(keys + [f"miou_{i + 1}" for i in range(self.max_clicks)])
            for r in rows:
                w.writerow([r[k] for k in keys] + [f"{v:.5f}" for v in r["miou_per_click"]])
            atomic_write_text(d / "summary.csv", buf.getvalue())
            self.plot.grab().save(str(d / "miou_vs_clicks.png"))
        except OSError as e:
            dialogs.message(self, "error", "Could not write the results", f"{d}: {e.strerror or e}")
            return []
        return [d / "summary.json", d / "summary.csv", d / "miou_vs_clicks.png"]
