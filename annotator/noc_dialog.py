"""Training → Benchmark (NoC)…: clicks needed to reach 85% / 90% IoU, measured by `ifcn noc` children.

Data (widgets.noc_sources): the held-out images of a retraining run (its devkit's val split), every
annotated image of the output folder (made into a devkit by `ifcn devkit --holdout 1` first), any VOC
devkit, or a benchmark folder (`images/` + `masks/`). One or two models (widgets.noc_models: current,
the shipped default, another checkpoint, the GrabCut baseline), with and/or without refinement;
each combination is one `ifcn noc --progress-json` child whose `object` events fill the mIoU-vs-clicks
curves live. When a model was trained on some of the measured images (annotator.trained_on) the dialog
says so before and after the run. Each run of model 2 is compared with model 1's run of the same refinement
object by object (`ifcn compare`: the mean NoC@90 difference, its standard error and a verdict; the table's last
column). At the end the results folder holds each run's own files (summary.json, per_object.csv,
miou_vs_clicks.png in a subfolder) plus the combined summary.csv, summary.json and miou_vs_clicks.png.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (QAbstractItemView, QDialog, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView,
                             QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QSplitter,
                             QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from annotator import data_folders, trained_on
from annotator.child_process import ChildProcess, ifcn_command
from annotator.noc_results import (PAIRED_TARGET, NocRun, compare_with_first, paired_text, plan_runs, summaries,
                                   write_summaries)
from annotator.widgets import dialogs
from annotator.widgets.noc_models import NocModels
from annotator.widgets.noc_sources import NocSources, browse_row, row
from annotator.widgets.process_panes import device_combo, error_box, fit_to_screen, log_view, make_plot

COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75)]
TABLE_COLUMNS = ("run", "objects", "NoC@85", "NoC@90", "failed@85", "failed@90", "mIoU@1", "mIoU@5",
                 "vs model 1")
DEFAULT_SIZE = (1180, 700)  # less on a smaller screen


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
        self.runs: list[NocRun] = []
        self.queue: list[NocRun] = []
        self.current: NocRun | None = None
        self.results_dir: Path | None = None
        self.data_args: list[str] = []
        self.phase = "idle"  # idle | devkit | noc
        self.status = ""
        self.error_text = ""
        self.trained_note = ""  # the trained-on warning the running benchmark started with
        self.max_clicks = 20
        self.curves: dict[int, pg.PlotDataItem] = {}
        self._build()
        self.refresh_data()

    # ---- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        self.sources = NocSources()
        self.sources.changed.connect(self.update_warning)
        lay.addWidget(self.sources)
        self.models = NocModels()
        self.models.changed.connect(self.update_warning)
        lay.addWidget(self.models)

        opts = QGroupBox("Protocol and output")
        f = QFormLayout(opts)
        self.clicks = QSpinBox()
        self.clicks.setRange(1, 100)
        self.clicks.setValue(20)
        self.limit = QSpinBox()
        self.limit.setRange(0, 10 ** 6)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("Measure only the first N objects (all: every object)")
        for spin in (self.clicks, self.limit):
            spin.setMinimumWidth(80)
        self.device = device_combo(getattr(getattr(self.window_, "settings", None), "device", "auto"))
        f.addRow("Clicks per object:", row(self.clicks))
        f.addRow("Objects:", row(self.limit))
        f.addRow("Device:", self.device)
        self.out_edit = QLineEdit()
        f.addRow("Results folder:", browse_row(self.out_edit, "Folder for the results", self))
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
        self.trained_label = QLabel()  # a model was trained on the images it would be measured on
        self.trained_label.setWordWrap(True)
        self.trained_label.setStyleSheet("color: #9a5b00;")
        self.trained_label.setVisible(False)
        rl.addWidget(self.trained_label)
        self.plot = make_plot("mIoU vs number of clicks", "clicks", "mIoU")
        self.plot.setYRange(0, 1)
        self.plot.setXRange(1, self.max_clicks, padding=0.03)
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
        self.table.horizontalHeaderItem(len(TABLE_COLUMNS) - 1).setToolTip(
            f"Each run of model 2 against model 1's run with the same refinement, object by object: the mean "
            f"difference of their NoC@{PAIRED_TARGET} (negative: fewer clicks) ± its standard error, and whether "
            "that is a gain, a loss or a tie (within 2 standard errors). The table's means alone cannot tell a real "
            "difference from which objects happened to be hard.")
        self._fit_table()
        rl.addWidget(self.table)
        self.error_box = error_box(100)
        rl.addWidget(self.error_box)
        self.log_view = log_view(2000, "Log of the benchmark processes")
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
        fit_to_screen(self, *DEFAULT_SIZE)

    # ---- state ----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while a child is at work."""
        return self.child.running or self.phase != "idle"

    def refresh_data(self) -> None:
        """Fill in defaults from the window: latest run, annotation counts, models, results folder."""
        out = getattr(self.window_, "output_dir", None)
        self.sources.refresh(out, self.tools.last_run_dir() if self.tools is not None else None)
        self.models.refresh(self.window_)
        if not self.out_edit.text() or not self.running:
            base = data_folders.noc_results_root(out)  # the user's data folder, not the image folder
            self.out_edit.setText(str(base / time.strftime("noc-%Y%m%d-%H%M%S")))
        self.update_warning()
        self._update_buttons()

    def trained_warning(self) -> str:
        """Why the chosen models' NoC on the chosen data would be optimistic ('' when it would not)."""
        measured = self.sources.measured_images(getattr(self.window_, "output_dir", None))
        if not measured:
            return ""
        try:
            models = self.models.chosen(self.window_)
        except ValueError:
            return ""
        notes = [trained_on.overlap_warning(label, trained_on.trained_images(ckpt), measured)
                 for label, ckpt in models]
        return "\n".join(n for n in notes if n)

    def update_warning(self) -> None:
        """Show or hide the trained-on warning for the current choices."""
        text = self.trained_warning()
        self.trained_label.setText(f"⚠ {text}" if text else "")
        self.trained_label.setVisible(bool(text))

    def _update_buttons(self) -> None:
        busy = self.running
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        for w in (self.sources, self.models):
            w.setEnabled(not busy)

    # ---- actions ---------------------------------------------------------------------------------------
    def _refuse(self, text: str) -> bool:
        dialogs.message(self, "warning", "Cannot start the benchmark", text)
        self.status_label.setText(text)
        return False

    def plan(self) -> list[NocRun]:
        """The runs Start would make (ValueError with a reason when the choices are unusable)."""
        out = Path(self.out_edit.text()).expanduser()
        from models.colour_refine import REFINE_LABELS

        method = self.window_.settings.refine_method
        return plan_runs(self.models.chosen(self.window_), self.models.refines(), out, REFINE_LABELS[method])

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
        out = getattr(self.window_, "output_dir", None)
        if self.sources.src_all.isChecked() and getattr(self.window_, "dirty", False):
            self.window_.save(quiet=True)
        try:
            self.data_args, make_devkit = self.sources.data_args(out, results)
            results.mkdir(parents=True, exist_ok=True)
        except ValueError as e:
            return self._refuse(str(e))
        except OSError as e:
            return self._refuse(f"{results}: cannot create the results folder ({e.strerror or e}).")
        self._reset_view()
        self.update_warning()
        self.trained_note = self.trained_warning()
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
        if make_devkit:
            devkit_argv = ["--annotations", str(out), "--images", str(self.window_.folder),
                           "--out", str(results / "devkit"), "--holdout", "1", "--min-objects", "1",
                           "--progress-json"]
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
        runs it now (Maximum Inference Size, Zoom In on the Object, Enforce Clicks, Snap to Edges and its Learned
        Refiner, Refine with GrabCut)."""
        from models.predictor import ZoomIn

        settings = self.window_.settings
        argv = [*self.data_args, "--out", str(run.out), "--max-clicks", str(self.max_clicks),
                "--device", self.device.currentData(), "--progress-json", "--max-size", str(settings.max_size),
                "--zoom-in", str(ZoomIn().target if settings.zoom_in else 0),
                "--brs" if settings.brs else "--no-brs", "--snap" if settings.snap else "--no-snap",
                "--learned-refiner" if settings.learned_refiner else "--no-learned-refiner"]
        if run.checkpoint is not None:
            argv += ["--checkpoint", run.checkpoint]
        if run.refine:
            argv += ["--refine", "--refine-method", settings.refine_method]
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
        if kind in ("data", "error") and self.data_args[:1] == ["--data"]:
            self.sources.note_run_event(self.data_args[-1], ev)
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
        # room for a horizontal scroll bar too: on a narrow screen it would cover the last row
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height()
                                  + rows * self.table.verticalHeader().defaultSectionSize() + 4
                                  + self.table.horizontalScrollBar().sizeHint().height())

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
        paired, paired_tip = paired_text(run)
        cells.append(paired)
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(paired_tip if c == len(cells) - 1 else text)
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
            compare_with_first(self.runs, run)  # a fraction of a second: two CSVs read by `ifcn compare`
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
        if self.trained_note and status == "completed":
            text += f"\n⚠ {self.trained_note}"
        self.status_label.setText(text)
        self._update_buttons()
        self.benchmarkFinished.emit(status)

    # ---- results ---------------------------------------------------------------------------------------
    def summaries(self) -> list[dict[str, Any]]:
        """One summary per finished run (label, model, refine, NoC, failures, mIoU curve)."""
        return summaries(self.runs, self.max_clicks, self.trained_note)

    def write_results(self) -> list[Path]:
        """Write summary.json, summary.csv and miou_vs_clicks.png into the results folder."""
        rows = self.summaries()
        if self.results_dir is None or not rows:
            return []
        d = self.results_dir
        try:
            written = write_summaries(d, rows, self.max_clicks)
            self.plot.grab().save(str(d / "miou_vs_clicks.png"))
        except OSError as e:
            dialogs.message(self, "error", "Could not write the results", f"{d}: {e.strerror or e}")
            return []
        return written + [d / "miou_vs_clicks.png"]
