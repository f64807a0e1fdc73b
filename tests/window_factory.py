"""Building shown MainWindows for widget tests (shared by the annotator and reliability suites)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def window_factory(qtbot, tmp_path: Path, default_predictor: Callable[[], Any], size: tuple[int, int],
                   wait_exposed: bool = False):
    """A `make(folder=None, predictor=None, **settings)` factory and the list of windows it made.

    Each window has its own QSettings file under `tmp_path`, so tests never share settings.
    """
    from PyQt5.QtCore import QSettings

    from annotator.settings import Settings
    from annotator.window import MainWindow

    made: list = []

    def make(folder=None, predictor=None, classes="voc", concurrent=False, **settings):
        """`classes`: the list a folder without classes.json starts with ("voc", None = empty, as the app)."""
        if not concurrent:  # a new window is a new session: the earlier ones ended (their locks released)
            from annotator import save_guard
            for old in made:
                save_guard.release_folder(old)
        store = QSettings(str(tmp_path / f"settings{len(made)}.ini"), QSettings.IniFormat)
        w = MainWindow(predictor=predictor if predictor is not None else default_predictor(),
                       settings=Settings().updated(**settings), store=store)
        qtbot.addWidget(w)
        if classes == "voc":
            from models.class_list import ClassTable
            w.class_ctl.set_start_list(ClassTable.voc(), store=False)
        w.resize(*size)
        w.show()
        if wait_exposed:
            qtbot.waitExposed(w)
        if folder is not None:
            w.open_folder(folder)
        made.append(w)
        return w

    return make, made


def click(qtbot, w, x, y, button=None):
    """A real mouse click on image pixel (x, y) of the canvas (left button by default)."""
    from PyQt5.QtCore import Qt

    qtbot.mouseClick(w.canvas.viewport(), Qt.LeftButton if button is None else button,
                     pos=w.canvas.view_pos_of(x, y))


def key(qtbot, w, k, mod=None):
    """A real key press, delivered like the user's (window active, canvas focused)."""
    from PyQt5.QtCore import Qt
    from PyQt5.QtWidgets import QApplication

    QApplication.setActiveWindow(w)
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, k, Qt.NoModifier if mod is None else mod)
