"""Saving the shown image from the main window: Save, autosave or asking before leaving an image, and
messages that say what to do when a save fails (the work always stays in memory)."""
from __future__ import annotations

import errno

from annotator import foreign_masks, label_file, save_guard
from annotator.widgets import dialogs
from models.errors import AnnotationFileError, IFCNError


def error_text(e: BaseException) -> str:
    """A one-line description of a failure for messages (an OSError with its file name)."""
    if isinstance(e, OSError):
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        return f"{e.strerror or e}{where}"
    return str(e) or type(e).__name__


def save_advice(e: BaseException) -> str:
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


class SavingMixin:
    """Part of MainWindow: the dirty flag, Save and the save-or-ask guard before leaving an image."""

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
            self.statusBar().showMessage(f"Could not save {path.name}: {error_text(e)}", 15000)
            if not (quiet and self._save_failed):
                advice = save_advice(e)
                dialogs.message(
                    self, "error", "Could not save",
                    f"Could not save the annotation of {path.name} in {self.output_dir}:\n{error_text(e)}\n\n"
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

    def close_unattended(self) -> None:
        """End the session with nobody to answer (SIGTERM at logout or shutdown, SIGHUP, Ctrl+C in the terminal;
        `annotator.stop_signals`): an open dialog is dismissed, the current image's work (an unfinished object
        included) is saved as autosave saves it, whatever the autosave setting, and the window closes. A
        question on the way takes its default (the annotation changed on disk: nothing is overwritten)."""
        from PyQt5.QtWidgets import QApplication, QDialog

        with dialogs.unattended():
            for _ in range(10):  # nested modal dialogs: innermost first
                modal = QApplication.activeModalWidget()
                if modal is None or modal is self:
                    break
                modal.reject() if isinstance(modal, QDialog) else modal.close()
            if self.dirty:
                self.save(quiet=True)
            self._closing = True
            self.close()

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
