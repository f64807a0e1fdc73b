"""Issue 15 item 6: one annotator per output folder, and no save over a file changed on disk unasked."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
from PyQt5.QtCore import Qt

from annotator import disk_guard, folder_lock, label_file
from tests.window_factory import click, key


def _annotate(w, qtbot, x=40, y=45):
    click(qtbot, w, x, y)
    assert w.wait_for_inference(10)
    key(qtbot, w, Qt.Key_Space)


def test_second_window_on_the_folder_is_refused_or_read_only(make_window, image_folder, qtbot, fake_dialogs):
    w1 = make_window(image_folder)
    lock = folder_lock.read_lock(image_folder / folder_lock.LOCK_NAME)
    assert lock is not None and lock.pid == os.getpid() and lock.host == socket.gethostname()

    fake_dialogs.answer = "cancel"
    w2 = make_window(image_folder, concurrent=True)
    assert w2.folder is None and w2.state is None, "cancel: the folder is not opened"
    assert f"process {os.getpid()}" in fake_dialogs.questions[-1] and socket.gethostname() in fake_dialogs.questions[-1]

    fake_dialogs.answer = "read_only"
    w3 = make_window(image_folder, concurrent=True)
    assert w3.state is not None, "read-only: the folder opens"
    _annotate(w1, qtbot)
    assert w1.save()
    sidecar = label_file.paths_for(image_folder, w1.images[0]).sidecar
    before = sidecar.read_bytes()
    _annotate(w3, qtbot, 80, 45)
    assert not w3.save(quiet=True), "a read-only window saves nothing"
    assert sidecar.read_bytes() == before and "read-only" in w3.statusBar().currentMessage()

    w1.close()
    assert not (image_folder / folder_lock.LOCK_NAME).exists(), "closing releases the lock"
    w4 = make_window(image_folder, concurrent=True)
    assert w4.state is not None and folder_lock.read_lock(image_folder / folder_lock.LOCK_NAME).token == w4._lock.token


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_note(make_window, image_folder, fake_dialogs):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    path = image_folder / folder_lock.LOCK_NAME
    path.write_text(json.dumps({"pid": p.pid, "host": socket.gethostname(), "since": 0, "token": "dead"}))
    w = make_window(image_folder)
    assert w.state is not None and not fake_dialogs.questions, "no question for a dead holder"
    assert folder_lock.read_lock(path).pid == os.getpid()
    assert "no longer running" in w.statusBar().currentMessage()


def test_lock_from_another_host_is_respected():
    info = folder_lock.LockInfo(1, "some-other-host", 0.0, "x")
    assert not folder_lock.is_stale(info), "a pid on another host cannot be checked"


def test_save_asks_before_overwriting_a_file_changed_on_disk(make_window, image_folder, qtbot, fake_dialogs):
    w = make_window(image_folder)
    _annotate(w, qtbot)
    assert w.save()
    paths = label_file.paths_for(image_folder, w.images[0])
    # behind the window's back: another program rewrites the sidecar (one object at another place)
    doc = json.loads(paths.sidecar.read_text())
    doc["objects"][0]["class"] = 7
    theirs = json.dumps(doc)
    paths.sidecar.write_text(theirs)

    fake_dialogs.answer = "cancel"
    _annotate(w, qtbot, 90, 45)  # its autosave asks first
    assert not w.save(), "cancel: nothing written"
    assert paths.sidecar.read_text() == theirs and "changed on disk" in fake_dialogs.questions[-1]
    assert str(paths.sidecar) in fake_dialogs.questions[-1] and w.dirty, "the work stays in memory"
    assert len(w.state.objects) == 2

    fake_dialogs.answer = "reload"
    assert w.save()
    assert len(w.state.objects) == 1 and w.state.objects[0].class_index == 7, "reloaded from disk"
    assert paths.sidecar.read_text() == theirs  # (dirty: its PNGs disagree with the sidecar, a resave is due)

    doc["objects"][0]["class"] = 8
    paths.sidecar.write_text(json.dumps(doc))
    fake_dialogs.answer = "overwrite"
    n_questions = len(fake_dialogs.questions)
    _annotate(w, qtbot, 90, 45)  # autosave: asks, then overwrites
    assert len(fake_dialogs.questions) == n_questions + 1 and not w.dirty
    saved = json.loads(paths.sidecar.read_text())
    assert [o["class"] for o in saved["objects"]] == [7, w.state.objects[1].class_index]
    _annotate(w, qtbot, 60, 70)
    assert not w.dirty and len(fake_dialogs.questions) == n_questions + 1, "its own saves are no change"


def test_touched_but_equal_file_is_no_conflict(tmp_path):
    f = tmp_path / "a.json"
    f.write_text("x")
    seen = disk_guard.snapshot([f, tmp_path / "missing.png"])
    os.utime(f, ns=(1, 1))
    assert disk_guard.changed(seen) == []
    (tmp_path / "missing.png").write_bytes(b"new")
    f.write_text("y")
    assert set(disk_guard.changed(seen)) == {f, tmp_path / "missing.png"}
