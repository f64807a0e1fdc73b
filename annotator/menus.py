"""The main window's menus, toolbar, sliders, status bar fields and restored geometry (built once)."""
from __future__ import annotations

from PyQt5.QtCore import QByteArray, Qt
from PyQt5.QtWidgets import QAction, QActionGroup, QLabel, QMenu, QSlider, QToolBar

from annotator import convert_dialog, model_actions, overlap_view, recent
from annotator.actions import build_actions
from annotator.widgets.canvas import MODE_BRUSH, MODE_CLICK, MODE_ERASER


class MenusMixin:
    """Part of MainWindow: builds its actions (`actions_by_name`), menus, toolbar and status bar."""

    def _build_actions(self, devices: list[str]) -> None:
        """The actions, menus and toolbar (`devices`: those the Device menu may offer)."""
        a = self.actions_by_name = build_actions(self, {
            "open_folder": self._ask_open_folder, "open_image": self._ask_open_image,
            "change_output": self._ask_output_dir, "save": self.save, "autosave": self._on_autosave,
            "quit": self.close, "prev_image": self.prev_image, "next_image": self.next_image,
            "undo": self.undo, "redo": self.redo, "finish": self.finish_object, "clear": self.clear_current,
            "delete_object": lambda: self.delete_object(self.object_list.selected_uid()),
            "edit_object": lambda: self.edit_object(self.object_list.selected_uid()),
            "copy_previous": self.copy_previous_objects,
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
            "snap_edges": lambda on: self._toggle_reload("snap_edges", "snap", on),
            "learned_refiner": lambda on: self._toggle_reload("learned_refiner", "learned_refiner", on),
            "refine_grabcut": self._on_refine_grabcut,
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
        a["snap_edges"].setChecked(self.settings.snap)
        a["learned_refiner"].setChecked(self.settings.learned_refiner)
        a["refine_grabcut"].setChecked(self.settings.refine_method == "grabcut")
        a["show_clicks"].setChecked(self.settings.show_clicks)
        a["protect_finished"].setChecked(self.settings.protect_finished)
        for i in range(9):
            act = QAction(f"Class {i + 1}", self)
            act.setShortcut(str(i + 1))
            act.triggered.connect(lambda _=False, n=i: self.pick_nth_class(n))
            self.addAction(act)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        for n in ("open_folder", "open_image", "recent", "change_output", None, "save", "autosave", None, "export",
                  "import_annotations", None, "prev_image", "next_image", None, "quit"):
            if n == "recent":  # File → Open Recent, rebuilt from the settings each time it opens
                self.recent_menu = m.addMenu("Open &Recent")
                self.recent_menu.aboutToShow.connect(lambda: recent.fill_menu(self, self.recent_menu))
            else:
                m.addSeparator() if n is None else m.addAction(a[n])
        m = mb.addMenu("&Edit")
        for n in ("undo", "redo", None, "finish", "clear", None, "edit_object", "delete_object", "copy_previous", None,
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
        self.model_menu.addAction(a["snap_edges"])
        self.model_menu.addAction(a["learned_refiner"])
        self.model_menu.addAction(a["refine_grabcut"])
        self.device_menu = self.model_menu.addMenu("&Device")
        self.device_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        avail = devices
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

    def add_training_action(self, action: QAction) -> None:
        """Put an action in the Training menu (replacing the placeholder)."""
        if self._training_placeholder is not None:
            self.training_menu.removeAction(self._training_placeholder)
            self._training_placeholder = None
        self.training_menu.addAction(action)
