"""Opening folders and images in the main window: the file list, moving between images (saving or asking
first), unreadable images and same-stem conflicts skipped with a message, the image's annotation loaded."""
from __future__ import annotations

import os
from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication

from annotator import label_file, recent, save_guard
from annotator.prefetch import file_stamp
from annotator.saving import error_text
from annotator.state import AnnotationState
from annotator.view_sync import last_image
from annotator.widgets import dialogs
from models.errors import AnnotationFileError, ImageReadError
from models.fileio import list_images, read_image


class NavigationMixin:
    """Part of MainWindow: which folder and image are open, and switching between them."""

    def open_folder(self, folder: str | os.PathLike, select: str | os.PathLike | None = None) -> bool:
        """Show the images of `folder` and open the first one (or `select`)."""
        folder = Path(folder)
        if not self.maybe_save():
            return False
        try:
            images = list_images(folder)
        except OSError as e:
            dialogs.message(self, "error", "Cannot open folder", f"{folder}: {error_text(e)}")
            return False
        if not save_guard.claim_folder(self, label_file.output_dir_for(folder)):
            return False
        self._leave_image()
        self.prefetch.clear()
        self.folder = folder
        self.output_dir = label_file.output_dir_for(folder)
        self.images = images
        self.class_ctl.folder_opened()
        self._list_files()
        self._update_settings(last_folder=str(folder),
                              recent_folders=recent.with_folder(self.settings.recent_folders, folder))
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
        """Go to the next image the file list's filter shows."""
        return self._step(+1)

    def prev_image(self) -> bool:
        """Go to the previous image the file list's filter shows."""
        return self._step(-1)

    def _step(self, direction: int) -> bool:
        i = self.index + direction
        while 0 <= i < len(self.images) and not self.file_list.is_shown(i):
            i += direction
        return self.go_to(i) if 0 <= i < len(self.images) else False

    def _open_from(self, index: int, direction: int) -> bool:
        """Open image `index`, skipping unreadable ones in `direction`."""
        i = index
        while 0 <= i < len(self.images):
            if i != index and not self.file_list.is_shown(i):  # skipping past an unreadable one: filtered out
                i += direction
                continue
            if self._load_image(i):
                if 0 <= i + direction < len(self.images):  # decoded while the user works on this one
                    self.prefetch.request(self.images[i + direction])
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
        stamp = file_stamp(path)  # before the read: a file changed during it is read again next time
        try:
            rgb = self.prefetch.take(path)
            if rgb is None:
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
        if self.image is not None and self.index >= 0:  # going back to it needs no decode
            self.prefetch.keep(self.images[self.index], self.image, self._image_stamp)
        self._image_stamp = stamp
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
