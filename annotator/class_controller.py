"""The window's class list: read with the output folder, written back on every change, checked against
each image's sidecar, and the Classes menu (load a list, VOC classes, delete and reorder with checks).

The window holds one `ClassTable` (`window.classes`); this controller replaces its content when a folder
opens and writes it to `OUT/classes.json` (models.class_list) atomically after each edit and before each
save, so class indices never collide across images or restarts.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt5.QtWidgets import QAction, QApplication, QMenu
from PyQt5.QtCore import Qt

from annotator import folder_classes
from annotator.widgets import dialogs
from models import class_list
from models.class_list import ClassTable, LabelsFile
from models.errors import ClassListError
from models.fileio import move_to_backup

if TYPE_CHECKING:
    from annotator.label_file import LoadedAnnotation
    from annotator.window import MainWindow


class ClassController:
    """Owns the folder's class list for a MainWindow (see the module docstring)."""

    def __init__(self, window: "MainWindow") -> None:
        self.w = window
        self.table: ClassTable = window.classes
        #: The list a folder without classes.json starts with (`ifcn annotate --labels`), else empty.
        self.start: ClassTable | LabelsFile | None = None
        self._store_start = False
        self._unsaved = False          # the table differs from the folder's classes.json
        self._broken: Path | None = None  # a classes.json that could not be read: moved aside before a write
        self._reported: set[Path] = set()
        dock = window.class_dock
        dock.classesEdited.connect(self._on_edited)
        dock.deleteRequested.connect(self.delete_class)
        dock.moveRequested.connect(self.move_class)
        self._build_menu()

    # ---- menu ----------------------------------------------------------------------------------
    def _action(self, text: str, tip: str, slot) -> QAction:
        a = QAction(text, self.w)
        a.setStatusTip(tip)
        a.setToolTip(tip)
        a.triggered.connect(lambda _=False: slot())
        return a

    def _build_menu(self) -> None:
        w, dock = self.w, self.w.class_dock
        self.load_action = self._action("Load &Class List…", "Add the classes of a labels.txt or classes.json "
                                        "to this folder's class list", self.ask_load_list)
        self.voc_action = self._action("Use &VOC Classes", "Add PASCAL VOC's 20 classes to the class list",
                                       self.use_voc)
        file_menu = next((a.menu() for a in w.menuBar().actions() if a.text() == "&File"), None)
        if file_menu is not None:
            file_menu.insertAction(w.actions_by_name["export"], self.load_action)
        help_action = next((a for a in w.menuBar().actions() if a.text() == "&Help"), None)
        self.menu = QMenu("&Classes", w)
        w.menuBar().insertMenu(help_action, self.menu) if help_action else w.menuBar().addMenu(self.menu)
        self.menu.setObjectName("ClassesMenu")
        for text, tip, slot in (("&Add Class…", "Add a class", dock.add_class),
                                ("&Rename Class…", "Rename the selected class", dock.rename_selected),
                                ("C&olour…", "Change the selected class's colour", dock.recolor_selected),
                                ("&Delete Class…", "Delete the selected class", lambda: self._selected(
                                    self.delete_class)),
                                ("Move &Up", "Move the selected class up", lambda: self._selected(
                                    lambda i: self.move_class(i, -1))),
                                ("Move Do&wn", "Move the selected class down", lambda: self._selected(
                                    lambda i: self.move_class(i, +1)))):
            self.menu.addAction(self._action(text, tip, slot))
        self.menu.addSeparator()
        self.menu.addAction(self.voc_action)
        self.menu.addAction(self.load_action)

    def _selected(self, then) -> None:
        idx = self.w.class_dock.selected_index()
        if idx:
            then(idx)

    # ---- the folder's list ---------------------------------------------------------------------
    @property
    def class_file(self) -> Path | None:
        """The output folder's classes.json (None without an output folder)."""
        return class_list.folder_class_file(self.w.output_dir) if self.w.output_dir is not None else None

    def set_start_list(self, source: ClassTable | LabelsFile | None, store: bool = True) -> None:
        """The list folders without classes.json start with, merged into those that have one (`--labels`);
        with `store`, written to the folder as soon as it opens."""
        self.start, self._store_start = source, store

    def folder_opened(self) -> None:
        """Read the output folder's class list (or build it from its sidecars), then pick a class."""
        self._reported.clear()
        self._broken = None
        out = self.w.output_dir
        table: ClassTable | None = None
        try:
            table = class_list.read_folder_classes(out) if out is not None else None
        except ClassListError as e:
            self._broken = self.class_file
            dialogs.message(self.w, "warning", "Cannot read the class list",
                            f"{e}\n\nThe classes are taken from the annotations instead. The broken file is "
                            "kept with a '.broken' suffix when the class list is next saved.")
        note = ""
        if table is None:
            start = self._start_table()
            table, n = folder_classes.table_from_sidecars(Path(out), start) if out is not None else (start, 0)
            self._unsaved = bool(len(table)) and out is not None
            if n:
                note = f"class list built from {n} annotation(s) of {out}"
        else:
            self._unsaved = False
            if self.start is not None:
                try:
                    report = class_list.merge_list(table, self.start)
                except ValueError as e:  # the folder's list is full (254 classes)
                    report = class_list.MergeReport([], [], [])
                    self.w.statusBar().showMessage(f"The given class list was not added: {e}", 10000)
                self._unsaved = bool(report.added)
                if report.added:
                    note = f"{len(report.added)} class(es) of the given list added to {self.class_file}"
        self.table.replace_with(table)
        if self._unsaved and (self._store_start or note):
            self.write(quiet=True)
        self._pick_default_class()
        if note:
            self.w.statusBar().showMessage(note, 8000)

    def output_changed(self) -> None:
        """After File → Change Output Folder…: that folder's list, plus the classes the open image uses."""
        old = ClassTable(())
        old.replace_with(self.table)
        self.folder_opened()
        st = self.w.state
        if st is not None:
            used = [o.class_index for o in st.objects] + ([] if st.current.is_empty else [st.current.class_index])
            result = folder_classes.reconcile(self.table, old.classes(), used)
            if result.added:
                self._changed_quietly()
            text = result.message(Path(self.w.output_dir), self.class_file or Path("classes.json"))
            if text:
                dialogs.message(self.w, "warning", "Class names disagree", text)

    def _start_table(self) -> ClassTable:
        t = ClassTable(())
        if self.start is not None:
            class_list.merge_list(t, self.start)
        return t

    def _pick_default_class(self) -> None:
        if self.w.current_class not in self.table:
            first = self.table.nth(0)
            self.w.current_class = first.index if first is not None else 0
            if self.w.state is not None and first is not None:
                self.w.state.set_current_class(first.index)
        self.w.class_dock.refresh()
        self.w.class_dock.set_current(self.w.current_class)

    def write(self, quiet: bool = False) -> bool:
        """Write the list to the folder's classes.json if it changed; OSError unless `quiet` (then False)."""
        path = self.class_file
        if path is None or not self._unsaved:
            return True
        try:
            if self._broken is not None and os.path.lexists(self._broken):
                move_to_backup(self._broken, "broken")
            self._broken = None
            class_list.write_class_file(path, self.table)
        except OSError as e:
            if not quiet:
                raise
            self.w.statusBar().showMessage(f"Could not write {path}: {e.strerror or e}", 10000)
            return False
        self._unsaved = False
        return True

    def _on_edited(self) -> None:
        self._unsaved = True
        self.write(quiet=True)

    def _changed(self) -> None:
        """After the list changed here: store it, redraw the dock, and have the image's PNGs rewritten."""
        self._on_edited()
        self.w.class_dock.refresh()
        self.w.class_dock.set_current(self.w.current_class)
        self.w._on_classes_edited()

    # ---- images --------------------------------------------------------------------------------
    def ensure_class(self) -> bool:
        """Before the first click of an object: True when a class is picked; with an empty list, asks the
        user to add one (the first class added is selected)."""
        if self.w.current_class in self.table:
            return True
        first = self.table.nth(0)
        if first is not None:
            self.w.set_class(first.index)
            return True
        if self.w.class_dock.add_class():
            return True
        self.w.statusBar().showMessage("Add a class first (Classes → Add Class…, or Classes → Use VOC "
                                       "Classes), then click on the object.", 8000)
        return False

    def adopt(self, loaded: "LoadedAnnotation", image: Path) -> None:
        """Check an image's annotation against the folder's list: add the classes its objects use that the
        list lacks, and report a sidecar that names a used class differently (never renaming the list's)."""
        used = [o.class_index for o in loaded.objects]
        if loaded.current is not None:
            used.append(loaded.current.class_index)
        result = folder_classes.reconcile(self.table, loaded.classes, used)
        if result.added:
            self._changed_quietly()
            names = ", ".join(f"'{c.name}' ({c.index})" for c in result.added[:5])
            self.w.statusBar().showMessage(f"Class list: added {names} used by {image.name}", 8000)
        sidecar = Path(self.w.output_dir) / "annotations" / f"{image.stem}.json"
        text = result.message(sidecar, self.class_file or Path("classes.json"))
        if text and sidecar not in self._reported:
            self._reported.add(sidecar)
            dialogs.message(self.w, "warning", "Class names disagree", text)

    def _changed_quietly(self) -> None:
        self._unsaved = True
        self.write(quiet=True)
        self.w.class_dock.refresh()
        self.w.class_dock.set_current(self.w.current_class)

    # ---- commands ------------------------------------------------------------------------------
    def ask_load_list(self) -> None:
        """File → Load Class List…"""
        start = str(self.w.output_dir or self.w.folder or "")
        path = dialogs.choose_file(self.w, "Load class list", start,
                                   "Class lists (*.txt *.json);;All files (*)")
        if path:
            self.load_list(path)

    def load_list(self, path: str | os.PathLike) -> bool:
        """Add the classes of a labels.txt / classes.json to the folder's list (reported); False on error."""
        try:
            source = class_list.read_any_list(path)
            trial = ClassTable(())
            trial.replace_with(self.table)
            report = class_list.merge_list(trial, source)
        except (ClassListError, ValueError) as e:
            dialogs.message(self.w, "warning", "Cannot load the class list", f"{path}: {e}" if
                            str(path) not in str(e) else str(e))
            return False
        self.table.replace_with(trial)
        self._changed()
        self._pick_default_class()
        lines = [f"{len(report.added)} class(es) added, {len(report.kept)} already in the list."]
        if report.moved:
            lines.append("These got another index than the file gives them (the file's index is taken):")
            lines += [f"  • '{n}': {want} → {got}" for n, want, got in report.moved[:10]]
        if isinstance(source, LabelsFile) and source.has_ignore:
            lines.append("'__ignore__' is VOC's void (255), painted with the ignore brush; it is not a class.")
        where = self.class_file
        lines.append(f"The list is stored in {where}." if where else "Open a folder to store the list with it.")
        dialogs.message(self.w, "info", "Class list loaded", "\n".join(lines))
        return True

    def use_voc(self) -> None:
        """Classes → Use VOC Classes: add the 20 PASCAL VOC classes (at their VOC indices where free)."""
        try:
            report = class_list.merge_list(self.table, ClassTable.voc())
        except ValueError as e:
            dialogs.message(self.w, "warning", "Cannot add the VOC classes", str(e))
            return
        self._changed()
        self._pick_default_class()
        moved = "".join(f"\n  • '{n}': {want} → {got}" for n, want, got in report.moved[:10])
        self.w.statusBar().showMessage(f"{len(report.added)} VOC class(es) added", 6000)
        if moved:
            dialogs.message(self.w, "info", "VOC classes added",
                            f"Some VOC classes got another index than VOC's (taken by your classes):{moved}")

    def move_class(self, index: int, delta: int) -> None:
        """Move a class up or down the list: its number key changes, its index (the PNG value) does not."""
        if index in self.table and self.table.move(index, delta):
            self._changed()

    def delete_class(self, index: int) -> bool:
        """Delete a class after checking which objects use it: refused when objects of other images use
        it; confirmed (with their number) when only this image's do, which are deleted with it."""
        if index not in self.table:
            return False
        c = self.table.get(index)
        QApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            here = self.w.current_image_path
            others = (folder_classes.class_usage(Path(self.w.output_dir), self.w.images, index, skip=here)
                      if self.w.output_dir is not None else {})
        finally:
            QApplication.restoreOverrideCursor()
        st = self.w.state
        mine = [o.uid for o in st.objects if o.class_index == index] if st is not None else []
        unfinished = st is not None and not st.current.is_empty and st.current.class_index == index
        if others:
            n = sum(others.values())
            listing = "\n".join(f"  • {name}: {k}" for name, k in list(others.items())[:10])
            more = f"\n  … and {len(others) - 10} more images" if len(others) > 10 else ""
            here_note = f" (and {len(mine)} on this image)" if mine else ""
            dialogs.message(self.w, "warning", "Class in use",
                            f"'{c.name}' (index {index}) is used by {n} object(s) on {len(others)} other "
                            f"image(s){here_note}:\n{listing}{more}\n\nGive those objects another class (select "
                            "an object, pick its class under the Objects list) or delete them, then delete the "
                            "class. Nothing was deleted.")
            return False
        if mine or unfinished:
            what = f"{len(mine)} object(s)" + (" and the unfinished object" if unfinished else "")
            if dialogs.ask(self.w, "Delete class", f"'{c.name}' (index {index}) is used by {what} on this image "
                           f"and by no other image. Delete the class and these objects?",
                           ("delete", "cancel"), "cancel") != "delete":
                return False
            for uid in mine:
                st.delete(uid)
            if unfinished:
                self.w.clear_current()
        elif dialogs.ask(self.w, "Delete class", f"Delete the class '{c.name}' (index {index})? No object uses "
                         "it.", ("delete", "cancel"), "cancel") != "delete":
            return False
        self.table.delete(index)
        if self.w.current_class == index:
            self.w.current_class = -1
            self._pick_default_class()
        self._changed()
        return True
