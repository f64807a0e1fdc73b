"""SIGTERM / SIGHUP / SIGINT close the annotator with the work saved (annotator.stop_signals)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.window_factory import click

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


def test_sigterm_saves_the_unfinished_object_and_closes_without_asking(make_window, image_folder, qtbot,
                                                                       fake_dialogs):
    from annotator import stop_signals

    w = make_window(image_folder, autosave=False)  # even a user who saves by hand keeps the clicks
    click(qtbot, w, 60, 45)
    assert w.wait_for_inference(10) and w.dirty
    before = signal.getsignal(signal.SIGTERM)
    stops = stop_signals.install(w)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    finally:
        stops.uninstall()
    assert stops.received == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before, "the previous handler is back"
    assert fake_dialogs.questions == [], "nobody is asked: nobody may be there"
    doc = json.loads((image_folder / "annotations" / "img0.json").read_text())
    assert doc["current"]["clicks"] == [[60, 45, True]]
    assert not list(image_folder.glob(".ifcn-annotator.lock")), "the folder's lock is given back"


def test_a_signal_dismisses_an_open_dialog_first(make_window, image_folder, qtbot):
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QMessageBox

    from annotator import stop_signals

    w = make_window(image_folder)
    click(qtbot, w, 60, 45)
    assert w.wait_for_inference(10)
    stops = stop_signals.install(w)
    result = []
    try:
        box = QMessageBox(QMessageBox.Information, "Busy", "a dialog nobody answers", QMessageBox.Ok, w)
        QTimer.singleShot(100, lambda: os.kill(os.getpid(), signal.SIGHUP))
        result.append(box.exec_())  # returns once the signal's handling dismissed it
    finally:
        stops.uninstall()
    assert result and stops.received == signal.SIGHUP
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    assert (image_folder / "annotations" / "img0.json").is_file()


def test_the_app_ended_by_sigterm_exits_143_and_gives_the_folder_back(tmp_path):
    from tests.annotator.conftest import write_image

    folder = tmp_path / "images"
    folder.mkdir()
    write_image(folder / "a.png")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-m", "annotator", str(folder), "--settings", str(tmp_path / "s.ini"),
                             "--checkpoint", "grabcut"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock = folder / ".ifcn-annotator.lock"
        deadline = time.time() + 60
        while not lock.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert lock.exists(), proc.stderr.read().decode() if proc.poll() is not None else "no lock after 60 s"
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 128 + signal.SIGTERM, proc.stderr.read().decode()
    assert not lock.exists()
