"""The Benchmark dialog's Data group: which images to measure on, and the check of a benchmark folder.

A benchmark folder's layout is checked by an `ifcn noc --data DIR --check-data` child as soon as it is
chosen; the line it prints (the layout detected, or why the folder is refused) is shown before anything runs.
"""
from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (QButtonGroup, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QPushButton, QRadioButton, QWidget)

from annotator import data_folders, trained_on
from annotator.child_process import ChildProcess, ifcn_command
from annotator.run_support import objects_per_image
from annotator.widgets import dialogs


def row(*widgets: QWidget) -> QHBoxLayout:
    """Widgets side by side, a first line edit taking the spare width (else it is left empty)."""
    r = QHBoxLayout()
    for i, w in enumerate(widgets):
        r.addWidget(w, 1 if isinstance(w, QLineEdit) and i == 0 else 0)
    if not isinstance(widgets[0], QLineEdit):
        r.addStretch(1)
    return r


def browse_row(edit: QLineEdit, title: str, parent: QWidget, *more: QWidget) -> QHBoxLayout:
    """`edit`, a Browse… button that fills it with a chosen folder, and `more`."""
    button = QPushButton("Browse…")

    def choose() -> None:
        d = dialogs.choose_folder(parent, title, edit.text())
        if d:
            edit.setText(d)
    button.clicked.connect(choose)
    return row(edit, button, *more)


class NocSources(QGroupBox):
    """Held-out images of a run, all annotated images, a VOC devkit, or a benchmark folder."""

    changed = pyqtSignal()  # another source or path was chosen

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Data", parent)
        f = QFormLayout(self)
        self.src_heldout = QRadioButton("Held-out images of a retraining run")
        self.src_all = QRadioButton("All annotated images in the output folder")
        self.src_voc = QRadioButton("A VOC devkit")
        self.src_folder = QRadioButton("A benchmark folder (images/ + masks/)")
        grp = QButtonGroup(self)
        for b in (self.src_heldout, self.src_all, self.src_voc, self.src_folder):
            grp.addButton(b)
            b.toggled.connect(lambda on: on and self.changed.emit())
        self.run_edit = QLineEdit()
        self.run_edit.setPlaceholderText("run folder (holding devkit/)")
        f.addRow(self.src_heldout)
        f.addRow("Run:", browse_row(self.run_edit, "Retraining run folder", self))
        self.all_label = QLabel()
        f.addRow(self.src_all)
        f.addRow("", self.all_label)
        self.voc_edit = QLineEdit()
        self.voc_edit.setPlaceholderText("VOCdevkit folder")
        self.split_edit = QLineEdit("val")
        self.split_edit.setMaximumWidth(60)
        f.addRow(self.src_voc)
        f.addRow("Devkit:", browse_row(self.voc_edit, "VOC devkit", self, QLabel("split"), self.split_edit))
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("holds images/ and masks/")
        self.folder_edit.setToolTip("A folder with images/<stem>.* and masks/<stem>.png or masks/<stem>_<k>.png")
        self.folder_edit.editingFinished.connect(self.check_folder)
        folder_browse = QPushButton("Browse…")
        folder_browse.clicked.connect(self._browse_benchmark_folder)
        self.layout_label = QLabel()
        self.layout_label.setWordWrap(True)
        f.addRow(self.src_folder)
        f.addRow("Folder:", row(self.folder_edit, folder_browse))
        f.addRow("", self.layout_label)
        self.src_folder.toggled.connect(lambda on: on and self.check_folder())
        for edit in (self.run_edit, self.voc_edit, self.split_edit, self.folder_edit):
            edit.editingFinished.connect(self.changed)
        self.probe = ChildProcess(self)  # `ifcn noc --check-data` on the chosen benchmark folder
        self.probe.progress.connect(self._on_probe_event)
        self.probe.finished.connect(self._on_probe_finished)
        self.layout_check: tuple[str, bool | None, str] = ("", None, "")  # (folder, usable, what it said)
        self._auto_run = ""

    def refresh(self, out: Path | None, last_run: Path | None) -> None:
        """Counts of the output folder; the latest retraining run as the default held-out source."""
        counts = [n for n in objects_per_image(out).values() if n]
        self.all_label.setText(f"{len(counts)} images, {sum(counts)} finished objects" if out is not None
                               else "no folder open")
        run = last_run
        if run is None and out is not None:
            runs = data_folders.run_dirs(out)
            run = runs[-1] if runs else None
        if run is not None and self.run_edit.text() in ("", self._auto_run):  # unless the user chose one
            self._auto_run = str(run)
            self.run_edit.setText(self._auto_run)
        if not any(b.isChecked() for b in (self.src_heldout, self.src_all, self.src_voc, self.src_folder)):
            (self.src_heldout if run is not None else self.src_all).setChecked(True)

    def data_args(self, out: Path | None, results: Path) -> tuple[list[str], bool]:
        """(`ifcn noc` data arguments, whether the output folder must first become a devkit under
        `results`); ValueError with the reason when the chosen data is unusable."""
        if self.src_heldout.isChecked():
            devkit = Path(self.run_edit.text()) / "devkit"
            if not (devkit / "ImageSets" / "Segmentation" / "val.txt").is_file():
                raise ValueError(f"{self.run_edit.text() or '(empty)'}: not a retraining run folder (no "
                                 "devkit/ with a val split). Retrain first, or choose other data.")
            return ["--voc-root", str(devkit), "--split", "val"], False
        if self.src_voc.isChecked():
            if not Path(self.voc_edit.text()).is_dir():
                raise ValueError(f"{self.voc_edit.text() or '(empty)'}: no such VOC devkit folder.")
            return ["--voc-root", self.voc_edit.text(), "--split", self.split_edit.text() or "val"], False
        if self.src_folder.isChecked():
            folder = self.folder_edit.text().strip()
            if not folder or not Path(folder).is_dir():
                raise ValueError(f"{folder or '(empty)'}: no such benchmark folder.")
            checked, usable, said = self.layout_check
            if checked == folder and usable is False:
                raise ValueError(said)
            return ["--data", folder], False  # the child says which layout it found, or refuses
        if out is None:
            raise ValueError("Open a folder of images and annotate some objects first.")
        if not any(objects_per_image(out).values()):
            raise ValueError(f"No finished objects are saved in {out} yet.")
        return ["--voc-root", str(results / "devkit"), "--split", "val"], True

    def measured_images(self, out: Path | None) -> set[trained_on.ImageKey]:
        """The images the chosen data holds (for the trained-on warning; empty when unknown)."""
        if self.src_heldout.isChecked() and self.run_edit.text():
            return trained_on.devkit_images(Path(self.run_edit.text()) / "devkit", "val")
        if self.src_voc.isChecked() and self.voc_edit.text():
            return trained_on.devkit_images(self.voc_edit.text(), self.split_edit.text() or "val")
        if self.src_folder.isChecked() and self.folder_edit.text().strip():
            return trained_on.benchmark_folder_images(self.folder_edit.text().strip())
        if self.src_all.isChecked() and out is not None:
            return trained_on.folder_images(out, [s for s, n in objects_per_image(out).items() if n])
        return set()

    # ---- the benchmark folder's layout -------------------------------------------------------------
    def _browse_benchmark_folder(self) -> None:
        d = dialogs.choose_folder(self, "Benchmark folder (images/ + masks/)", self.folder_edit.text())
        if d:
            self.folder_edit.setText(d)
            self.src_folder.setChecked(True)
            self.check_folder()

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
        self.show_layout()

    def note_run_event(self, folder: str, ev: dict) -> None:
        """A benchmark child on `folder` said which layout it found (or refused it)."""
        kind = ev.get("event")
        if kind == "data" or (kind == "error" and self.layout_check[1] is not True):
            self.layout_check = (folder, kind == "data", str(ev.get("text") or ev.get("message")))
            self.show_layout()

    def show_layout(self) -> None:
        """Show what the last check of the benchmark folder said."""
        _, usable, said = self.layout_check
        self.layout_label.setText(f"Detected: {said}" if usable else f"Refused: {said}")
        self.layout_label.setStyleSheet("" if usable else "color: #b00020;")
