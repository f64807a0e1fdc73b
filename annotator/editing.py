"""Editing the shown image's annotation from the main window: clicks, strokes, finishing, undo / redo,
classes, the object list's edits and the tool in use."""
from __future__ import annotations

from annotator import label_file, void_tool
from annotator.state import Stroke
from annotator.widgets import dialogs
from annotator.widgets.canvas import MODE_BRUSH, MODE_CLICK, MODE_ERASER, MODE_VOID
from models.clicks import Click
from models.errors import AnnotationFileError, ImageReadError
from models.fileio import image_shape


class EditingMixin:
    """Part of MainWindow: user edits forwarded to the annotation state, then a redraw."""

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

    def copy_previous_objects(self) -> int:
        """Edit → Copy Objects from Previous Image (labelme's "keep previous annotation", for video frames): the
        finished objects of the image before this one in the list, added as finished objects here (undoable)."""
        if self.state is None or self.index <= 0:
            self.statusBar().showMessage("There is no previous image to copy objects from.", 5000)
            return 0
        prev = self.images[self.index - 1]
        try:
            shape = image_shape(prev)  # as the annotator shows it (EXIF orientation applied)
            if shape != self.state.shape:
                dialogs.message(self, "warning", "Cannot copy the objects",
                                f"{prev.name} is {shape[1]}x{shape[0]} px and this image {self.state.shape[1]}x"
                                f"{self.state.shape[0]}: objects are copied between images of one size only.")
                return 0
            loaded = label_file.load(self.output_dir, prev, self.state.shape)
        except (AnnotationFileError, ImageReadError) as e:
            dialogs.message(self, "warning", "Cannot copy the objects", f"{e}")
            return 0
        objects = loaded.objects if loaded is not None else ()
        if not objects:
            self.statusBar().showMessage(f"{prev.name} has no finished objects to copy.", 5000)
            return 0
        n = self.state.add_objects(objects)
        self.refresh()
        left = f"; {len(objects) - n} did not fit" if n < len(objects) else ""
        self.statusBar().showMessage(f"Copied {n} object(s) from {prev.name}{left} (Ctrl+Z undoes).", 6000)
        return n

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

    def _on_visibility(self, uid: int, visible: bool) -> None:
        if self.state is not None:
            self.state.set_hidden(uid, not visible)
            self._render_overlay()

    def _on_classes_edited(self) -> None:
        """The class list changed: the image's PNGs are rewritten on the next save when they depend on it (the
        image has objects or void pixels, or an annotation on disk). An image with nothing on it stays clean,
        so that adding a class while looking at it neither marks it annotated nor asks to save it."""
        st = self.state
        if st is not None and (st.objects or not st.current.is_empty or not st.void.is_empty
                               or self.file_list.status(self.index) != label_file.NOT_ANNOTATED):
            st.dirty = True
        self.refresh()
