"""The main window: wires the canvas, docks, actions, annotation state, files and the inference thread."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PyQt5.QtCore import QSettings, Qt, pyqtSignal
from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import QMainWindow, QWidget

from annotator import class_controller, label_file, overlap_view, save_guard, void_tool
from annotator.actions import ICONS, shortcut_rows
from annotator.contrast import overlay_colors
from annotator.editing import EditingMixin
from annotator.inference import InferenceService
from annotator.menus import MenusMixin
from annotator.model_wiring import ModelMixin
from annotator.navigation import NavigationMixin
from annotator.prefetch import Prefetcher
from annotator.saving import SavingMixin
from annotator.settings import Settings, default_settings, load_settings, open_qsettings, save_settings
from annotator.state import AnnotationState, ClassTable
from annotator.view_sync import sync as sync_view
from annotator.widgets import dialogs
from annotator.widgets.brush_cursor import BrushCursor
from annotator.widgets.canvas import Canvas, label_edges, overlay_rgba
from annotator.widgets.class_table import ClassTableDock
from annotator.widgets.file_list import FileList
from annotator.widgets.object_list import ObjectList
from models.fileio import read_image

APP_NAME = "iFCN Annotator"


class MainWindow(NavigationMixin, SavingMixin, EditingMixin, ModelMixin, MenusMixin, QMainWindow):
    """The annotator window. Public methods double as the scripting API used by tests.

    Its jobs live in mixins named for them: menus (construction), navigation (folders and images), saving,
    editing and model_wiring (predictor and inference); this class wires them and draws the state.
    """

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
        self.prefetch = Prefetcher(read_image)  # the next image decoded ahead, the last one kept
        self._image_stamp = None  # the shown image's file stamp from before it was read (annotator.prefetch)
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

        self._build_actions(_available_devices())
        self.class_ctl = class_controller.ClassController(self)
        void_tool.install(self)
        self._build_status_bar()
        self.brush = BrushCursor(self)
        self.class_dock.set_current(self.current_class)
        self._restore_geometry()
        if predictor is not None:
            self.set_predictor(predictor)
        self.refresh()

    # ---- the shown image and closing -------------------------------------------------------
    @property
    def current_image_path(self) -> Path | None:
        """Path of the image being annotated."""
        return self.images[self.index] if self.state is not None else None

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
        self.prefetch.shutdown()
        for w in self._info_windows:
            w.close()
        event.accept()

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

    # ---- help ----------------------------------------------------------------------------------
    def show_shortcuts(self) -> QWidget:
        """Open Help → Keyboard Shortcuts (non-modal)."""
        d = dialogs.shortcuts_dialog(self, shortcut_rows())
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
    """The devices the Model → Device menu offers ("cpu" when torch cannot say)."""
    try:
        from models.device import available_devices
        return available_devices()
    except Exception:
        return ["cpu"]

