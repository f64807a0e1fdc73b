"""File → Export… and File → Import labelme / COCO…: `ifcn convert` run as a child process.

The GUI never converts itself: it saves the current image, runs `ifcn convert` (training/convert.py) on
the open folder and its output folder, and shows the summary the command prints or its error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                             QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget)

from annotator import label_file
from annotator.child_process import ChildProcess, ifcn_command
from annotator.widgets import dialogs

#: (label, format, extra options) of each export choice.
EXPORTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("COCO instances: RLE masks (exact, holes kept)", "coco", ()),
    ("COCO instances: polygons (holes filled)", "coco", ("--polygons",)),
    ("labelme JSON: polygons (holes filled)", "labelme", ()),
    ("labelme JSON: exact masks (labelme 5.3 or later)", "labelme", ("--masks",)),
    ("YOLO segmentation: txt + data.yaml (holes filled, no ignore regions)", "yolo", ()),
)
#: (label, format) of each import choice.
IMPORTS: tuple[tuple[str, str], ...] = (
    ("labelme JSON files (a folder, one <image>.json per image)", "labelme"),
    ("COCO instances JSON (one file)", "coco"),
)
FORMATS_HINT = "see docs/formats.md for what each format keeps"


class ConvertDialog(QDialog):
    """Export the folder's annotations, or import labelme / COCO annotations into it."""

    def __init__(self, window: Any, mode: str) -> None:
        super().__init__(window)
        self.window_, self.mode = window, mode
        self.child = ChildProcess(self)
        self.child.finished.connect(self._on_finished)
        self.result_text = ""
        self.setWindowTitle("Export Annotations" if mode == "export" else "Import labelme / COCO")
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.format_box = QComboBox()
        self.format_box.addItems([c[0] for c in (EXPORTS if mode == "export" else IMPORTS)])
        self.format_box.currentIndexChanged.connect(self._suggest_path)
        form.addRow("Format:", self.format_box)
        self.path_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Export to folder:" if mode == "export" else "Read from:", holder)
        self.overwrite_box = QCheckBox("Replace annotations that already have objects")
        if mode == "import":
            form.addRow("", self.overwrite_box)
        lay.addLayout(form)
        self.note = QLabel()
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.run_button = self.buttons.addButton("Export" if mode == "export" else "Import",
                                                 QDialogButtonBox.AcceptRole)
        self.buttons.accepted.connect(self.run)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self._suggest_path()
        self.resize(620, self.sizeHint().height())

    # ---- choices -------------------------------------------------------------------------------
    def _folder(self) -> Path | None:
        return self.window_.folder

    def _suggest_path(self) -> None:
        folder, out = self._folder(), self.window_.output_dir
        if self.mode == "export":
            fmt = EXPORTS[self.format_box.currentIndex()][1]
            self.path_edit.setText(str(Path(out).parent / f"{Path(out).name}-{fmt}") if out is not None else "")
            self.note.setText(f"Exports the finished objects saved in {out} ({FORMATS_HINT}).")
        else:
            fmt = IMPORTS[self.format_box.currentIndex()][1]
            if fmt == "labelme" and folder is not None:
                self.path_edit.setText(str(folder))
            elif fmt == "coco":
                self.path_edit.setText("")
            self.note.setText(f"The objects become finished, editable objects of the images in {folder}, saved "
                              f"in {out}. Images that already have objects are left alone unless you tick "
                              "the box.")

    def _browse(self) -> None:
        start = self.path_edit.text() or str(self._folder() or "")
        if self.mode == "import" and IMPORTS[self.format_box.currentIndex()][1] == "coco":
            chosen = dialogs.choose_file(self, "COCO instances file", start, "COCO JSON (*.json);;All files (*)")
        else:
            chosen = dialogs.choose_folder(self, "Folder", start)
        if chosen:
            self.path_edit.setText(chosen)

    def argv(self) -> list[str]:
        """The `ifcn convert` command line for the current choices."""
        w = self.window_
        path = self.path_edit.text().strip()
        if self.mode == "export":
            _, fmt, extra = EXPORTS[self.format_box.currentIndex()]
            args = ["--to", fmt, "--annotations", str(w.output_dir), "--images", str(w.folder), "--out", path, *extra]
        else:
            fmt = IMPORTS[self.format_box.currentIndex()][1]
            args = ["--from", fmt, "--annotations", path, "--images", str(w.folder), "--out", str(w.output_dir)]
            if self.overwrite_box.isChecked():
                args.append("--overwrite")
        return ifcn_command("convert", *args, "--progress-json")

    # ---- running -------------------------------------------------------------------------------
    def run(self) -> bool:
        """Save the current image and start the conversion; False (with a message) when it cannot start."""
        w = self.window_
        if w.folder is None or w.output_dir is None:
            dialogs.message(self, "warning", self.windowTitle(), "Open a folder of images first.")
            return False
        if not self.path_edit.text().strip():
            dialogs.message(self, "warning", self.windowTitle(),
                            "Choose the folder to export to." if self.mode == "export"
                            else "Choose the labelme folder or the COCO file to import.")
            return False
        if w.dirty and not w.save():
            return False
        self.run_button.setEnabled(False)
        self.note.setText("Exporting…" if self.mode == "export" else "Importing…")
        self.child.start(self.argv())
        return True

    def _on_finished(self, code: int, how: str) -> None:
        self.run_button.setEnabled(True)
        title = self.windowTitle()
        if code == 0:
            self.result_text = "\n".join(self.child.tail(40))
            if self.mode == "import":
                self._reload()
            self.note.setText("Done.")
            dialogs.message(self, "info", title, self.result_text)
        else:
            reason = self.child.error_message() or ("the conversion crashed" if how == "crashed"
                                                    else f"ifcn convert ended with exit code {code}")
            self.result_text = reason
            self.note.setText("Failed.")
            dialogs.message(self, "error", title, reason)

    def _reload(self) -> None:
        """Show what was imported: reopen the folder at the current image (its own output folder), or
        refresh the file list (another output folder: each image shows its objects when opened)."""
        w = self.window_
        if w.folder is None:
            return
        if Path(w.output_dir) == label_file.output_dir_for(w.folder):
            w.open_folder(w.folder, select=w.current_image_path)
        else:
            w.set_output_dir(w.output_dir)


def show(window: Any, mode: str) -> ConvertDialog:
    """Open the export (`mode` "export") or import ("import") dialog for `window`."""
    dlg = ConvertDialog(window, mode)
    dlg.setAttribute(Qt.WA_DeleteOnClose)
    dlg.setWindowModality(Qt.WindowModal)
    dlg.show()
    return dlg
