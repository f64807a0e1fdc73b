"""The app's excepthook (issue 16): an exception in a Qt slot is shown and logged; the window and the
user's unsaved work stay."""
import sys
import threading

from PyQt5.QtCore import QThread, QTimer, Qt
from PyQt5.QtWidgets import QApplication

from annotator import app as app_module
from annotator import crash_report


def boom(*_a, **_k):
    raise RuntimeError("a bug in a slot")


def test_exception_in_a_slot_is_shown_logged_and_the_work_kept(make_window, image_folder, fake_dialogs,
                                                                 tmp_path, qtbot):
    w = make_window(image_folder, autosave=False)
    log = tmp_path / "logs" / "errors.log"
    hook = crash_report.install(w, log)
    try:
        w.add_click(60, 45)
        assert w.wait_for_inference(10) and w.finish_object()
        w.add_click(20, 20)  # unfinished, unsaved work
        assert w.dirty
        w.canvas.clicked.disconnect()
        w.canvas.clicked.connect(boom)  # the next click's slot raises
        qtbot.mouseClick(w.canvas.viewport(), Qt.LeftButton, pos=w.canvas.view_pos_of(80, 30))
        QApplication.processEvents()
    finally:
        hook.uninstall()
    (kind, title, text), = fake_dialogs.messages
    assert kind == "error" and "RuntimeError: a bug in a slot" in text and str(log) in text
    assert "Traceback" not in text
    logged = log.read_text()
    assert "Traceback (most recent call last)" in logged and "in boom" in logged
    assert w.isVisible() and w.dirty and len(w.state.objects) == 1 and len(w.state.current.clicks) == 1


def test_repeated_errors_log_every_time_but_show_one_dialog(make_window, image_folder, fake_dialogs, tmp_path):
    w = make_window(image_folder)
    log = tmp_path / "errors.log"
    hook = crash_report.install(w, log)
    try:
        for _ in range(5):
            QTimer.singleShot(0, boom)
            QApplication.processEvents()
    finally:
        hook.uninstall()
    assert hook.count == 5 and log.read_text().count("a bug in a slot") >= 5
    assert len(fake_dialogs.messages) == 1


def test_exception_on_a_worker_thread_is_shown_on_the_gui_thread(make_window, image_folder, tmp_path, qtbot,
                                                                 monkeypatch):
    from annotator.widgets import dialogs

    w = make_window(image_folder)
    shown = []
    monkeypatch.setattr(dialogs, "message", lambda parent, kind, title, text:
                        shown.append((threading.get_ident(), text)))
    hook = crash_report.install(w, tmp_path / "errors.log")

    class Failing(QThread):
        def run(self):
            raise ValueError("worker bug")
    t = Failing()
    try:
        t.start()
        t.wait(5000)
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    finally:
        hook.uninstall()
    ((thread, text),) = shown
    assert "ValueError: worker bug" in text
    assert thread == threading.get_ident(), "the dialog opened on the GUI thread"


def test_the_app_installs_the_hook(tmp_path, monkeypatch, fake_dialogs, qtbot):
    """`ifcn annotate`: an exception in a slot while the event loop runs leaves the app running."""
    monkeypatch.setattr(app_module, "_load_predictor", lambda window, checkpoint: None)
    monkeypatch.setattr(crash_report, "default_log_path", lambda: tmp_path / "errors.log")
    before = sys.excepthook
    QTimer.singleShot(50, boom)
    args = app_module.argparse.Namespace(folder=None, output=None, checkpoint=None, device=None, max_size=None,
                                         settings=str(tmp_path / "s.ini"), screenshot=None, quit_after=600)
    assert app_module.run(args) == 0
    assert sys.excepthook is before, "the hook is removed when the app returns"
    (kind, title, text), = fake_dialogs.messages
    assert "RuntimeError: a bug in a slot" in text and str(tmp_path / "errors.log") in text
    assert "in boom" in (tmp_path / "errors.log").read_text()
