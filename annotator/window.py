"""The main window: wires the canvas, docks, actions, annotation state, files and the inference thread."""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5.QtCore import QByteArray, QSettings, Qt, pyqtSignal
from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import (QAction, QActionGroup, QApplication, QLabel, QMainWindow, QMenu, QSlider,
                             QToolBar, QWidget)

from annotator import (class_controller, convert_dialog, foreign_masks, label_file,
                       overlap_view, save_guard, void_tool)
from annotator.actions import ICONS, build_actions, shortcut_rows
from annotator.inference import InferenceFailure, InferenceResult, InferenceService
from annotator.settings import Settings, default_settings, load_settings, open_qsettings, save_settings
from annotator.state import AnnotationState, ClassTable, Stroke
from annotator.widgets import dialogs
from annotator import model_actions
from annotator.contrast import overlay_colors
from annotator.view_sync import last_image, sync as sync_view
from annotator.widgets.brush_cursor import BrushCursor
from annotator.widgets.canvas import (MODE_BRUSH, MODE_CLICK, MODE_ERASER, MODE_VOID, Canvas, label_edges,
                                      overlay_rgba)
from annotator.widgets.class_table import ClassTableDock
from annotator.widgets.file_list import FileList
from annotator.widgets.object_list import ObjectList
from models.clicks import Click
from models.errors import AnnotationFileError, IFCNError, ImageReadError
from models.fileio import list_images, read_image

APP_NAME = "iFCN Annotator"


def _error_text(e: BaseException) -> str:
    if isinstance(e, OSError):
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        return f"{e.strerror or e}{where}"
    return str(e) or type(e).__name__


def _save_advice(e: BaseException) -> str:
    """What the user can do about a failed save, for the kind of failure it was."""
    again = "save again with Ctrl+S"
    if isinstance(e, AnnotationFileError):
        return ""  # its message says what to do
    code = getattr(e, "errno", None)
    if code == errno.ENAMETOOLONG:
        return "A file name is too long for this file system: rename the image to a shorter name."
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"Make the folder writable (or use File → Change Output Folder…) and {again}."
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"The disk is full: free some space (or use File → Change Output Folder…) and {again}."
    return f"Check the folder (or use File → Change Output Folder…) and {again}."


class MainWindow(QMainWindow):
    """The annotator window. Public methods double as the scripting API used by tests."""

    predictorChanged = pyqtSignal(object)
    imageChanged = pyqtSignal(int)
    saved = pyqtSignal(str)

    def __init__(self, predictor: Any = None, settings: Settings | None = None,
                 store: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store if store is not None else open_qsettings()
        self.settings = settings if settings is not None else load_settings(self.store, default_settings())
        self.setWindowIcon(QIcon(str(ICONS / "app.svg")))
        self.classes = ClassTable(())  # the output folder's class list (annotator.class_controller)
        self.current_class = 0
        self.predictor: Any = None
        self.folder: Path | None = None
        self.output_dir: Path | None = None
        self.images: list[Path] = []
        self.index = -1
        self.image: np.ndarray | None = None
        self.state: AnnotationState | None = None
        self.last_inference_ms: float | None = None
        self._pending_id = 0
        self._finish_after = False
        self._last_current_mask: np.ndarray | None = None
        self._broken_annotation: label_file.LabelPaths | None = None
        self._foreign_masks: list[Path] = []  # masks another program wrote: kept before the first save
        self._stem_conflicts: dict[Path, Path] = {}  # image -> the image of the same stem that owns its files
        self._save_failed = False
        self._info_windows: list[QWidget] = []
        self._closing = False

        self.service = InferenceService(self)
        self.service.finished.connect(self._on_result)
        self.service.failed.connect(self._on_failure)

        self.canvas = Canvas(self)
        self.canvas.marker_size = self.settings.marker_size
        self.canvas.show_clicks = self.settings.show_clicks
        self.canvas.clicked.connect(self.add_click)
        self.canvas.strokeFinished.connect(self._on_stroke)
        self.canvas.cursorMoved.connect(lambda x, y: self._pos_label.setText(f"x {x}, y {y}"))
        self.setCentralWidget(self.canvas)

        self.file_list = FileList(self)
        self.file_list.activated.connect(self.go_to)
        self.object_list = ObjectList(self)
        self.object_list.selected.connect(lambda _uid: self._render_overlay())
        self.object_list.visibilityChanged.connect(self._on_visibility)
        self.object_list.relabelRequested.connect(self.relabel_object)
        self.object_list.deleteRequested.connect(self.delete_object)
        self.object_list.editRequested.connect(self.edit_object)
        self.class_dock = ClassTableDock(self.classes, self)
        self.class_dock.classSelected.connect(self.set_class)
        self.class_dock.classesEdited.connect(self._on_classes_edited)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.file_list)
        self.addDockWidget(Qt.RightDockWidgetArea, self.class_dock)
        self.addDockWidget(Qt.RightDockWidgetArea, self.object_list)

        self._build_actions()
        self.class_ctl = class_controller.ClassController(self)
        void_tool.install(self)
        self._build_status_bar()
        self.brush = BrushCursor(self)
        self.class_dock.set_current(self.current_class)
        self._restore_geometry()
        if predictor is not None:
            self.set_predictor(predictor)
        self.refresh()

    # ---- construction ------------------------------------------------------------------------
    def _build_actions(self) -> None:
        a = self.actions_by_name = build_actions(self, {
            "open_folder": self._ask_open_folder, "open_image": self._ask_open_image,
            "change_output": self._ask_output_dir, "save": self.save, "autosave": self._on_autosave,
            "quit": self.close, "prev_image": self.prev_image, "next_image": self.next_image,
            "undo": self.undo, "redo": self.redo, "finish": self.finish_object, "clear": self.clear_current,
            "delete_object": lambda: self.delete_object(self.object_list.selected_uid()),
            "edit_object": lambda: self.edit_object(self.object_list.selected_uid()),
            "tool_click": lambda on: on and self.set_tool(MODE_CLICK),
            "tool_brush": lambda on: on and self.set_tool(MODE_BRUSH),
            "tool_eraser": lambda on: on and self.set_tool(MODE_ERASER),
            "brush_smaller": lambda: self.brush.step(-1), "brush_larger": lambda: self.brush.step(+1),
            "refine": self._on_refine, "show_clicks": self._on_show_clicks,
            "fit": self.canvas.fit, "actual_size": self.canvas.actual_size,
            "zoom_in": lambda: self.canvas.zoom(1.25), "zoom_out": lambda: self.canvas.zoom(0.8),
            "load_checkpoint": lambda: model_actions.ask_checkpoint(self), "max_size": self._ask_max_size,
            "default_model": lambda: model_actions.use_default_model(self),
            "focus_zoom": lambda on: self._toggle_reload("focus_zoom", "zoom_in", on),
            "enforce_clicks": lambda on: self._toggle_reload("enforce_clicks", "brs", on),
            "model_info": self.show_model_info, "shortcuts": self.show_shortcuts, "about": self.show_about,
            "export": lambda: convert_dialog.show(self, "export"),
            "import_annotations": lambda: convert_dialog.show(self, "import"),
            "protect_finished": lambda on: overlap_view.set_protect(self, on),
        })
        tools = QActionGroup(self)
        for n in ("tool_click", "tool_brush", "tool_eraser"):
            tools.addAction(a[n])
        a["tool_click"].setChecked(True)
        a["autosave"].setChecked(self.settings.autosave)
        a["refine"].setChecked(self.settings.refine)
        a["focus_zoom"].setChecked(self.settings.zoom_in)
        a["enforce_clicks"].setChecked(self.settings.brs)
        a["show_clicks"].setChecked(self.settings.show_clicks)
        a["protect_finished"].setChecked(self.settings.protect_finished)
        for i in range(9):
            act = QAction(f"Class {i + 1}", self)
            act.setShortcut(str(i + 1))
            act.triggered.connect(lambda _=False, n=i: self.pick_nth_class(n))
            self.addAction(act)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        for n in ("open_folder", "open_image", "change_output", None, "save", "autosave", None, "export",
                  "import_annotations", None, "prev_image", "next_image", None, "quit"):
            m.addSeparator() if n is None else m.addAction(a[n])
        m = mb.addMenu("&Edit")
        for n in ("undo", "redo", None, "finish", "clear", None, "edit_object", "delete_object", None,
                  "protect_finished"):
            m.addSeparator() if n is None else m.addAction(a[n])
        m = mb.addMenu("&View")
        for n in ("tool_click", "tool_brush", "tool_eraser", "brush_smaller", "brush_larger", None, "refine",
                  "show_clicks", None, "fit", "actual_size", "zoom_in", "zoom_out"):
            m.addSeparator() if n is None else m.addAction(a[n])
        m.addSeparator()
        for dock in (self.file_list, self.object_list, self.class_dock):
            m.addAction(dock.toggleViewAction())
        self.model_menu = mb.addMenu("&Model")
        self.model_menu.addAction(a["load_checkpoint"])
        self.model_menu.addAction(a["default_model"])
        self.model_menu.addAction(a["model_info"])
        self.model_menu.addAction(a["max_size"])
        self.model_menu.addAction(a["focus_zoom"])
        self.model_menu.addAction(a["enforce_clicks"])
        self.device_menu = self.model_menu.addMenu("&Device")
        self.device_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        avail = _available_devices()
        for dev, label in (("auto", "&Auto"), ("cuda", "&CUDA"), ("cpu", "C&PU")):
            act = QAction(label, self, checkable=True)
            act.setEnabled(dev != "cuda" or "cuda" in avail)
            if dev == "cuda" and "cuda" not in avail:
                act.setToolTip("No CUDA GPU found on this machine")
            act.setChecked(dev == self.settings.device)
            act.triggered.connect(lambda _=False, d=dev: self.set_device(d))
            group.addAction(act)
            self.device_menu.addAction(act)
            self.device_actions[dev] = act
        #: Left for the training tools (Retrain, Benchmark): they call add_training_action().
        self.training_menu: QMenu = mb.addMenu("&Training")
        self.training_menu.setObjectName("TrainingMenu")
        self._training_placeholder = self.training_menu.addAction("No training tools installed")
        self._training_placeholder.setEnabled(False)
        m = mb.addMenu("&Help")
        m.addAction(a["shortcuts"])
        m.addAction(a["about"])

        tb = QToolBar("Tools", self)
        tb.setObjectName("MainToolBar")
        tb.setMovable(False)
        for n in ("open_folder", "save", None, "prev_image", "next_image", None, "undo", "redo", "finish",
                  "clear", None, "tool_click", "tool_brush", "tool_eraser", "refine", None, "fit",
                  "actual_size"):
            tb.addSeparator() if n is None else tb.addAction(a[n])
        tb.addSeparator()
        self.opacity_slider = self._slider(tb, "Opacity", self.settings.opacity, self._on_opacity,
                                           "Mask overlay opacity")
        self.threshold_slider = self._slider(tb, "Threshold", self.settings.threshold, self._on_threshold,
                                             "Probability threshold of the mask", 1, 99)
        self.addToolBar(Qt.TopToolBarArea, tb)

    def _slider(self, tb: QToolBar, label: str, value: float, slot, tip: str, lo: int = 0,
                hi: int = 100) -> QSlider:
        lab = QLabel(f" {label} ")
        s = QSlider(Qt.Horizontal)
        s.setRange(lo, hi)
        s.setValue(int(round(value * 100)))
        s.setFixedWidth(110)
        s.setFocusPolicy(Qt.NoFocus)
        s.setToolTip(tip)
        s.valueChanged.connect(lambda v: slot(v / 100.0))
        tb.addWidget(lab)
        tb.addWidget(s)
        return s

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self._size_label, self._objects_label = QLabel(), QLabel()
        self._ms_label, self._device_label, self._pos_label = QLabel(), QLabel(), QLabel()
        for lab in (self._pos_label, self._size_label, self._objects_label, self._ms_label, self._device_label):
            lab.setContentsMargins(6, 0, 6, 0)
            sb.addPermanentWidget(lab)

    def _restore_geometry(self) -> None:
        geo = self.store.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 820)
        st = self.store.value("window/state")
        if isinstance(st, QByteArray) and not st.isEmpty():
            self.restoreState(st)

    # ---- predictor ---------------------------------------------------------------------------
    def set_predictor(self, predictor: Any) -> None:
        """Use `predictor` for all further clicks (current object re-predicted)."""
        self.predictor = predictor
        self.service.set_predictor(predictor)
        if self.state is not None:
            self.state.forget_predictions()
            self._request_prediction()
        self.predictorChanged.emit(predictor)
        self.refresh()

    def add_training_action(self, action: QAction) -> None:
        """Put an action in the Training menu (replacing the placeholder)."""
        if self._training_placeholder is not None:
            self.training_menu.removeAction(self._training_placeholder)
            self._training_placeholder = None
        self.training_menu.addAction(action)

    @property
    def current_image_path(self) -> Path | None:
        """Path of the image being annotated."""
        return self.images[self.index] if self.state is not None else None

    def load_checkpoint(self, path: str | None, device: str | None = None) -> bool:
        """Load a predictor from `path` (None = default model); on failure keep the current one."""
        try:
            from models.predictor import BRS, Predictor, ZoomIn
            p = Predictor.load(path, device=device or self.settings.device, max_size=self.settings.max_size,
                               zoom_in=ZoomIn() if self.settings.zoom_in else None,
                               brs=BRS() if self.settings.brs else None)
        except IFCNError as e:
            dialogs.message(self, "error", "Could not load the model",
                            f"{e}\n\nThe current model stays in use.")
            return False
        except Exception as e:  # a broken file must never take the GUI down
            dialogs.message(self, "error", "Could not load the model",
                            f"{path}: {type(e).__name__}: {e}\n\nThe current model stays in use.")
            return False
        self.set_predictor(p)
        return True

    def set_device(self, device: str) -> None:
        """Reload the current model on another device (auto / cuda / cpu)."""
        ckpt = getattr(self.predictor, "checkpoint_path", None)
        if self.load_checkpoint(str(ckpt) if ckpt else None, device=device):
            self._update_settings(device=device)
        cur = self.settings.device
        for d, act in self.device_actions.items():
            act.setChecked(d == cur)

    def model_info(self) -> dict[str, Any]:
        """What the Model Info window shows."""
        p = self.predictor
        if p is None:
            return {"model": "none loaded"}
        info: dict[str, Any] = {"name": getattr(p, "name", "?"), "device": str(getattr(p, "device", "?")),
                                "checkpoint": str(getattr(p, "checkpoint_path", None) or "(built-in)"),
                                "classical (GrabCut only)": bool(getattr(p, "is_classical", False))}
        try:
            info.update(p.info())
        except Exception as e:
            info["info"] = f"unavailable ({e})"
        return info

    # ---- folders and images ------------------------------------------------------------------
    def open_folder(self, folder: str | os.PathLike, select: str | os.PathLike | None = None) -> bool:
        """Show the images of `folder` and open the first one (or `select`)."""
        folder = Path(folder)
        if not self.maybe_save():
            return False
        try:
            images = list_images(folder)
        except OSError as e:
            dialogs.message(self, "error", "Cannot open folder", f"{folder}: {_error_text(e)}")
            return False
        if not save_guard.claim_folder(self, label_file.output_dir_for(folder)):
            return False
        self._leave_image()
        self.folder = folder
        self.output_dir = label_file.output_dir_for(folder)
        self.images = images
        self.class_ctl.folder_opened()
        self._list_files()
        self._update_settings(last_folder=str(folder))
        if not images:
            self.statusBar().showMessage(f"No images in {folder}", 8000)
            self.refresh()
            return True
        start, select = 0, select if select is not None else last_image(self.store, folder)
        if select is not None:
            names = [p.name for p in images]
            if Path(select).name in names:
                start = names.index(Path(select).name)
        self._open_from(start, +1)
        return True

    def open_image_file(self, path: str | os.PathLike) -> bool:
        """Open one image, listing the other images of its folder."""
        return self.open_folder(Path(path).parent, select=path)

    def set_output_dir(self, folder: str | os.PathLike) -> None:
        """Write masks under `folder` from now on (the current image is saved there when next saved)."""
        if not save_guard.claim_folder(self, Path(folder)):
            return
        self.output_dir = Path(folder)
        self.class_ctl.output_changed()
        self._list_files()
        if self.index >= 0:
            self.file_list.set_current(self.index)
        if self.state is not None and self.state.objects:
            self.state.dirty = True
        self.refresh()

    def _list_files(self) -> None:
        """Fill the file list for the images and output folder (marks, same-stem conflicts)."""
        out = self.output_dir
        self._stem_conflicts = label_file.stem_conflicts(self.images, out) if out is not None else {}
        self.file_list.set_files(self.images, [label_file.annotation_status(out, p) if out is not None
                                               else label_file.NOT_ANNOTATED for p in self.images])
        for i, p in enumerate(self.images):
            if p in self._stem_conflicts:
                self.file_list.set_broken(i, self._conflict_text(p))

    def _conflict_text(self, path: Path) -> str:
        owner = self._stem_conflicts[path]
        return (f"{path.name} cannot be annotated here: {owner.name} has the same name without its extension, "
                f"and the annotation files are named by that ('{path.stem}.png', '{path.stem}.json'), so the two "
                f"would overwrite each other. {owner.name} keeps them. Rename {path.name} (for example to "
                f"{path.stem}_2{path.suffix}) to annotate it.")

    def go_to(self, index: int) -> bool:
        """Switch to image `index` (saving or asking first); False if the switch was refused."""
        if not (0 <= index < len(self.images)) or index == self.index:
            if index == self.index:
                self.file_list.set_current(index)
            return False
        if not self.maybe_save():
            self.file_list.set_current(self.index)
            return False
        direction = 1 if index > self.index else -1
        return self._open_from(index, direction)

    def next_image(self) -> bool:
        """Go to the next image."""
        return self.go_to(self.index + 1) if self.index + 1 < len(self.images) else False

    def prev_image(self) -> bool:
        """Go to the previous image."""
        return self.go_to(self.index - 1) if self.index > 0 else False

    def _open_from(self, index: int, direction: int) -> bool:
        """Open image `index`, skipping unreadable ones in `direction`."""
        i = index
        while 0 <= i < len(self.images):
            if self._load_image(i):
                return True
            i += direction
        self.refresh()
        return False

    def _leave_image(self) -> None:
        self.service.cancel()
        self._pending_id = 0
        self._finish_after = False
        self._last_current_mask = None
        self._broken_annotation, self._foreign_masks = None, []
        self.state = None
        self.image = None
        self.index = -1
        self.canvas.clear()

    def _load_image(self, index: int) -> bool:
        path = self.images[index]
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            rgb = read_image(path)
        except ImageReadError as e:
            QApplication.restoreOverrideCursor()
            self.file_list.set_broken(index)
            dialogs.message(self, "warning", "Cannot read image", f"{e}\n\nSkipping this image.")
            return False
        except MemoryError:
            QApplication.restoreOverrideCursor()
            self.file_list.set_broken(index)
            dialogs.message(self, "warning", "Cannot read image", f"{path}: not enough memory to open it.")
            return False
        if path in self._stem_conflicts:  # readable, but its annotation files belong to another image
            QApplication.restoreOverrideCursor()
            self.file_list.set_broken(index, self._conflict_text(path))
            dialogs.message(self, "warning", "Cannot annotate this image", self._conflict_text(path))
            return False
        self._leave_image()
        try:
            h, w = rgb.shape[:2]
            state = AnnotationState((h, w), self.classes, class_index=self.current_class)
            state.threshold = self.settings.threshold
            state.refine = self.settings.refine
            state.protect_finished = self.settings.protect_finished
            problem = None
            try:
                loaded = label_file.load(self.output_dir, path, (h, w))
            except AnnotationFileError as e:
                loaded, problem = None, e
            if loaded is not None:
                self.class_ctl.adopt(loaded, path)
                state.load_objects(loaded.objects, loaded.current, loaded.void)
                self._foreign_masks = loaded.foreign
                state.dirty = loaded.needs_resave
            self.image, self.state, self.index = rgb, state, index
            save_guard.record(self, path)
            self.canvas.set_image(rgb)
            self.service.set_image(rgb)
            self.file_list.set_current(index)
            self._request_prediction()
            self.refresh()
            self.imageChanged.emit(index)
        finally:
            QApplication.restoreOverrideCursor()
        if problem is not None:
            self._broken_annotation = label_file.paths_for(self.output_dir, path)
            dialogs.message(self, "warning", "Cannot read the annotation",
                            f"{problem}\n\nThe image opens without objects. The broken files stay "
                            "untouched until you save; then they are kept with a '.broken' suffix.")
        return True

    # ---- saving ------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """True when the current image has unsaved edits."""
        return self.state is not None and self.state.dirty

    def save(self, quiet: bool = False) -> bool:
        """Write the masks and sidecar of the current image; on failure the work stays in memory."""
        if self.state is None or self.output_dir is None:
            return True
        path = self.images[self.index]
        if path in self._stem_conflicts:  # (after Change Output Folder: that folder's files are another's)
            dialogs.message(self, "error", "Could not save", self._conflict_text(path))
            return False
        go = save_guard.confirm_save(self, path, quiet)
        if go is not True:
            return go is None
        try:
            if self._broken_annotation is not None:
                label_file.move_aside(self._broken_annotation)
                self._broken_annotation = None
            kept, self._foreign_masks = foreign_masks.keep_originals(self._foreign_masks), []
            self.class_ctl.write()
            label_file.save(self.output_dir, path, self.state)
        except (OSError, IFCNError, ValueError) as e:
            self.statusBar().showMessage(f"Could not save {path.name}: {_error_text(e)}", 15000)
            if not (quiet and self._save_failed):
                advice = _save_advice(e)
                dialogs.message(
                    self, "error", "Could not save",
                    f"Could not save the annotation of {path.name} in {self.output_dir}:\n{_error_text(e)}\n\n"
                    f"Your work is kept in memory.{' ' + advice if advice else ''}")
            self._save_failed = True
            save_guard.record(self, path)  # what a save cut short left is this window's own writing
            self.refresh()
            return False
        self._save_failed = False
        self.state.mark_saved()
        save_guard.record(self, path)
        self.file_list.set_status(self.index, label_file.annotation_status(self.output_dir, path))
        note = foreign_masks.backup_note(kept, self.output_dir)
        self.statusBar().showMessage(f"Saved {path.name}{note}", 15000 if note else 4000)
        self.saved.emit(str(path))
        self.refresh()
        return True

    def maybe_save(self) -> bool:
        """Before leaving the image: autosave or ask; False means stay (work not saved)."""
        if not self.dirty:
            return True
        if self.settings.autosave:
            if self.save():
                return True
            choice = dialogs.ask(self, "Unsaved work", "The annotation could not be saved. Leave this image "
                                 "and lose the unsaved changes?", ("discard", "cancel"), "cancel")
            return choice == "discard"
        choice = dialogs.ask(self, "Unsaved work", f"Save the changes to {self.images[self.index].name}?",
                             ("save", "discard", "cancel"), "save")
        if choice == "save":
            return self.save() or dialogs.ask(
                self, "Unsaved work", "Saving failed. Leave anyway and lose the changes?",
                ("discard", "cancel"), "cancel") == "discard"
        return choice == "discard"

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self._closing and not self.maybe_save():
            event.ignore()
            return
        self._closing = True
        self.store.setValue("window/geometry", self.saveGeometry())
        self.store.setValue("window/state", self.saveState())
        save_settings(self.store, self.settings)
        save_guard.release_folder(self)
        self.service.shutdown()
        for w in self._info_windows:
            w.close()
        event.accept()

    # ---- editing -----------------------------------------------------------------------------
    def add_click(self, x: float, y: float, positive: bool = True) -> bool:
        """Add a click (image pixels) to the current object and request its mask."""
        if self.state is None or not self.class_ctl.ensure_class():
            return False
        try:
            self.state.add_click(Click(x, y, positive))
        except ValueError as e:
            self.statusBar().showMessage(str(e), 5000)
            return False
        self._request_prediction()
        self.refresh()
        return True

    def _on_stroke(self, points, radius: float, erase: bool) -> None:
        if self.state is None:
            return
        if self.canvas.mode == MODE_VOID:
            void_tool.on_stroke(self, points, radius, erase)
        else:
            self.state.add_stroke(Stroke(tuple((float(x), float(y)) for x, y in points), float(radius), erase))
        self.refresh()

    def finish_object(self) -> bool:
        """Add the current object to the object list with exactly the mask on screen; when nothing is on
        screen yet for its clicks, as soon as its prediction arrives and has been shown."""
        if self.state is None:
            return False
        if self.state.current.clicks and self.state.current_mask() is None:
            self._finish_after = True
            self.statusBar().showMessage("Finishing when the prediction arrives…", 3000)
            return False
        if self.inference_pending:  # e.g. GrabCut refining the shown mask: the user chose what is shown
            self.service.cancel()
            self._pending_id = 0
        try:
            done = self.state.finish_object()
        except ValueError as e:
            dialogs.message(self, "warning", "Cannot finish the object", str(e))
            return False
        if done is None:
            self.statusBar().showMessage("Nothing to finish: click on an object first.", 4000)
            return False
        self._last_current_mask = None
        self.refresh()
        if self.settings.autosave:
            self.save(quiet=True)
        return True

    def undo(self) -> None:
        """Undo the last edit."""
        if self.state is not None and self.state.undo():
            self._after_history()

    def redo(self) -> None:
        """Redo the last undone edit."""
        if self.state is not None and self.state.redo():
            self._after_history()

    def _after_history(self) -> None:
        self._finish_after = False
        self._last_current_mask = None
        self._request_prediction()
        self.refresh()

    def clear_current(self) -> None:
        """Clear the current object's clicks and brush edits."""
        if self.state is not None and self.state.clear_current():
            self.service.cancel()
            self._finish_after = False
            self._last_current_mask = None
            self.refresh()

    def set_class(self, index: int) -> None:
        """Pick the class for the current and next objects."""
        self.current_class = index
        if self.state is not None:
            self.state.set_current_class(index)
        self.class_dock.set_current(index)
        self.refresh()

    def pick_nth_class(self, n: int) -> None:
        """Pick the class in row `n` of the class list (number keys)."""
        c = self.classes.nth(n)
        if c is not None:
            self.set_class(c.index)

    def relabel_object(self, uid: int, class_index: int) -> None:
        """Give a finished object another class."""
        if self.state is not None:
            self.state.relabel(uid, class_index)
            self.refresh()

    def delete_object(self, uid: int) -> None:
        """Delete a finished object."""
        if self.state is not None and uid:
            self.state.delete(uid)
            self.refresh()

    def edit_object(self, uid: int) -> None:
        """Make a finished object the current one again (finish the current object first)."""
        if self.state is None or not uid:
            return
        if not self.state.current.is_empty:
            self.statusBar().showMessage("Finish or clear the current object first.", 4000)
            return
        if self.state.resume(uid):
            self.set_class(self.state.current.class_index)
            self.refresh()

    def set_tool(self, mode: str) -> None:
        """Switch between the click tool, brush and eraser."""
        self.canvas.set_mode(mode)
        names = {MODE_CLICK: "tool_click", MODE_BRUSH: "tool_brush", MODE_ERASER: "tool_eraser", MODE_VOID: "tool_void"}
        act = self.actions_by_name[names[mode]]
        if not act.isChecked():
            act.setChecked(True)

    def set_brush_size(self, size: float) -> None:
        """Brush radius in image pixels."""
        self.brush.set_size(size)

    # ---- inference ---------------------------------------------------------------------------
    def _request_prediction(self) -> None:
        if self.state is None or not self.state.needs_prediction():
            return
        if self.predictor is None:
            self.statusBar().showMessage("No model is loaded: use Model → Load Checkpoint…", 6000)
            return
        self._pending_id = self.service.request(self.state.current.clicks, self.state.refine)
        self.refresh_status()

    def _on_result(self, res: InferenceResult) -> None:
        if self.state is None or res.image_token != self.service.image_token:
            return
        try:
            self.state.set_prediction(res.clicks, res.refine, res.prob)
        except ValueError as e:
            self._on_failure(InferenceFailure(res.request_id, res.image_token, str(e)))
            return
        if res.request_id == self._pending_id and res.refine == self.state.refine:
            self._pending_id = 0  # a preview (network only, refinement still running) keeps it pending
            self.last_inference_ms = res.ms
        if self._finish_after and self.state.current_mask() is not None:
            self._finish_after = False
            self.refresh()  # show the mask the object is finished with, then finish
            self.canvas.viewport().repaint()
            self.finish_object()
        self.refresh()

    def _on_failure(self, f: InferenceFailure) -> None:
        if f.image_token != self.service.image_token or f.message == "stale image":
            return
        if f.request_id in (self._pending_id, -1):
            self._pending_id = 0
            self._finish_after = False
            dialogs.message(self, "error", "Prediction failed", f.message)
            self.refresh()

    def wait_for_inference(self, timeout_s: float = 10.0) -> bool:
        """Process events until no prediction is pending (for scripts and tests)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            QApplication.processEvents()
            if self._pending_id == 0 and self.service.is_idle():
                QApplication.processEvents()
                return True
            time.sleep(0.005)
        return False

    @property
    def inference_pending(self) -> bool:
        """True while the latest prediction has not arrived."""
        return self._pending_id != 0

    # ---- drawing -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw markers, overlay, lists, status bar, title and action states from the state."""
        st = self.state
        self.canvas.set_clicks(st.current.clicks if st is not None else ())
        self._render_overlay()
        if st is not None:
            self.object_list.set_objects(st.objects, self.classes, st.hidden)
        else:
            self.object_list.set_objects((), self.classes, set())
        a = self.actions_by_name
        a["undo"].setEnabled(st is not None and st.can_undo)
        a["redo"].setEnabled(st is not None and st.can_redo)
        a["save"].setEnabled(st is not None)
        a["prev_image"].setEnabled(self.index > 0)
        a["next_image"].setEnabled(0 <= self.index < len(self.images) - 1)
        name = self.images[self.index].name if st is not None else ""
        self.setWindowTitle(f"{name}{' *' if self.dirty else ''} — {APP_NAME}" if name else APP_NAME)
        self.refresh_status()
        sync_view(self)

    def refresh_status(self) -> None:
        """Update the permanent status bar fields."""
        st = self.state
        self._size_label.setText(f"{st.shape[1]} × {st.shape[0]} px" if st is not None else "no image")
        n = len(st.objects) if st is not None else 0
        self._objects_label.setText(f"{n} object{'' if n == 1 else 's'}" if st is not None else "")
        if self._pending_id:
            self._ms_label.setText("inference …")
        elif self.last_inference_ms is not None:
            self._ms_label.setText(f"inference {self.last_inference_ms:.0f} ms")
        else:
            self._ms_label.setText("inference –")
        p = self.predictor
        if p is None:
            self._device_label.setText("no model")
        else:
            kind = "GrabCut" if getattr(p, "is_classical", False) else getattr(p, "name", "model")
            self._device_label.setText(f"{kind} on {getattr(p, 'device', '?')}")

    def current_mask(self) -> np.ndarray | None:
        """The current object's mask as displayed (last known while a prediction is pending)."""
        if self.state is None:
            return None
        m = self.state.current_mask()
        if m is not None:
            self._last_current_mask = m
            return m
        return self._last_current_mask

    def _render_overlay(self) -> None:
        st = self.state
        if st is None:
            self.canvas.set_overlay(None)
            return
        s = self.canvas.overlay_step()
        h, w = -(-st.shape[0] // s), -(-st.shape[1] // s)
        labels = np.zeros((h, w), dtype=np.uint8)
        colors = np.zeros((256, 3), dtype=np.uint8)
        outline = None
        sel = self.object_list.selected_uid()
        for i, o in enumerate(st.objects, start=1):
            colors[i] = self.classes.get(o.class_index).color
            if o.uid in st.hidden or o.mask is None:
                continue
            m = o.mask[::s, ::s]
            labels[m] = i
            if o.uid == sel:
                outline = label_edges(m.astype(np.uint8))
        cur = self.current_mask()
        cur_small = cur[::s, ::s] if cur is not None else None
        color = self.classes.get(st.current.class_index).color
        colors, edge_colors, color = overlay_colors(labels, colors, self.image[::s, ::s], cur_small, color,
                                                    self.settings.opacity)
        rgba = overlay_rgba(labels, colors, self.settings.opacity, cur_small, color, outline,
                            overlap_view.hatch(self, s), edge_colors=edge_colors)
        rgba = void_tool.paint(self, rgba, s)
        self.canvas.set_overlay(rgba if rgba[..., 3].any() else None)

    # ---- toggles and settings ------------------------------------------------------------------
    def _update_settings(self, **changes: Any) -> None:
        self.settings = self.settings.updated(**changes)
        save_settings(self.store, self.settings)

    def _on_opacity(self, v: float) -> None:
        self._update_settings(opacity=v)
        self._render_overlay()

    def _on_threshold(self, v: float) -> None:
        self._update_settings(threshold=v)
        if self.state is not None:
            self.state.threshold = self.settings.threshold
            self._render_overlay()

    def _on_refine(self, on: bool) -> None:
        self._update_settings(refine=bool(on))
        if self.state is not None:
            self.state.refine = bool(on)
            self._request_prediction()
            self.refresh()

    def _on_show_clicks(self, on: bool) -> None:
        self._update_settings(show_clicks=bool(on))
        self.canvas.set_show_clicks(bool(on))

    def _on_autosave(self, on: bool) -> None:
        self._update_settings(autosave=bool(on))

    def _on_visibility(self, uid: int, visible: bool) -> None:
        if self.state is not None:
            self.state.set_hidden(uid, not visible)
            self._render_overlay()

    def _on_classes_edited(self) -> None:
        if self.state is not None:
            self.state.dirty = True
        self.refresh()

    # ---- dialogs ------------------------------------------------------------------------------
    def _ask_open_folder(self) -> None:
        d = dialogs.choose_folder(self, "Open image folder", str(self.folder or self.settings.last_folder))
        if d:
            self.open_folder(d)

    def _ask_open_image(self) -> None:
        f = dialogs.choose_file(self, "Open image", str(self.folder or self.settings.last_folder),
                                "Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp)")
        if f:
            self.open_image_file(f)

    def _ask_output_dir(self) -> None:
        d = dialogs.choose_folder(self, "Output folder for the masks", str(self.output_dir or ""))
        if d:
            self.set_output_dir(d)

    def _reload_with(self, **changes: Any) -> bool:
        """Apply the settings `changes` and reload the current model with them; on failure the old
        settings and model stay."""
        old = self.settings
        self._update_settings(**changes)
        ckpt = getattr(self.predictor, "checkpoint_path", None)
        if self.predictor is not None and not self.load_checkpoint(str(ckpt) if ckpt else None):
            self._update_settings(**{k: getattr(old, k) for k in changes})
            return False
        return True

    def _toggle_reload(self, action: str, setting: str, on: bool) -> None:
        """Model → Zoom In on the Object / Enforce Clicks: reload the model with the `setting` turned
        on or off (the old model and setting are kept on failure)."""
        if not self._reload_with(**{setting: bool(on)}):
            act = self.actions_by_name[action]
            act.blockSignals(True)  # show the old state without reloading again
            act.setChecked(getattr(self.settings, setting))
            act.blockSignals(False)

    def _ask_max_size(self) -> None:
        text = dialogs.ask_text(self, "Maximum inference size",
                                "Longest side (pixels) of the copy the model runs on (64–4096):",
                                str(self.settings.max_size))
        if text is None:
            return
        try:
            value = int(text)
        except ValueError:
            dialogs.message(self, "warning", "Not a number", f"{text!r} is not a whole number.")
            return
        self._reload_with(max_size=value)

    def show_shortcuts(self) -> QWidget:
        """Open Help → Keyboard Shortcuts (non-modal)."""
        d = dialogs.shortcuts_dialog(self, shortcut_rows())
        self._info_windows.append(d)
        d.show()
        return d

    def show_model_info(self) -> QWidget:
        """Open Model → Model Info (non-modal)."""
        d = dialogs.model_info_dialog(self, self.model_info())
        self._info_windows.append(d)
        d.show()
        return d

    def show_about(self) -> None:
        """Help → About."""
        dialogs.message(self, "info", f"About {APP_NAME}",
                        f"{APP_NAME}: click-to-mask annotation with iFCN (Xu et al., Deep Interactive Object "
                        "Selection, CVPR 2016).\n\nLeft click: object, right click: background, Space: finish "
                        "the object. Masks are saved as VOC SegmentationClass / SegmentationObject PNGs.")


def _available_devices() -> list[str]:
    try:
        from models.device import available_devices
        return available_devices()
    except Exception:
        return ["cpu"]

