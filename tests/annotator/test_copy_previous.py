"""Edit → Copy Objects from Previous Image: the previous image's finished objects, added here (undoable)."""
import numpy as np
from PyQt5.QtCore import Qt

from tests.annotator.conftest import write_image
from tests.window_factory import click, key


def _annotate_first(w, qtbot, fake_dialogs):
    fake_dialogs.text = "car"
    click(qtbot, w, 60, 45)
    assert w.wait_for_inference(30)
    key(qtbot, w, Qt.Key_Space)
    assert w.wait_for_inference(30) and len(w.state.objects) == 1
    return w.state.objects[0]


def test_objects_are_copied_once_per_request_and_undone(make_window, image_folder, qtbot, fake_dialogs):
    w = make_window(image_folder)
    first = _annotate_first(w, qtbot, fake_dialogs)
    key(qtbot, w, Qt.Key_D)  # autosave writes the first image
    qtbot.waitUntil(lambda: w.index == 1)
    key(qtbot, w, Qt.Key_V, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(w.state.objects) == 1 and w.dirty
    got = w.state.objects[0]
    assert np.array_equal(got.mask, first.mask) and got.class_index == first.class_index
    assert "Copied 1 object(s) from img0.png" in w.statusBar().currentMessage()
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert w.state.objects == ()
    key(qtbot, w, Qt.Key_S, Qt.ControlModifier)  # nothing copied is saved after the undo
    w.copy_previous_objects()
    key(qtbot, w, Qt.Key_S, Qt.ControlModifier)
    w.go_to(0)
    assert len(w.state.objects) == 1  # the source image is untouched
    w.go_to(1)
    assert len(w.state.objects) == 1  # the copy was saved with the second image


def test_nothing_to_copy_says_why(make_window, image_folder, tmp_path, qtbot, fake_dialogs):
    w = make_window(image_folder)
    assert w.copy_previous_objects() == 0  # the first image has no previous one
    assert "no previous image" in w.statusBar().currentMessage()
    w.go_to(1)
    assert w.copy_previous_objects() == 0
    assert "img0.png has no finished objects" in w.statusBar().currentMessage()
    assert fake_dialogs.messages == []


def test_a_previous_image_of_another_size_is_refused_with_a_message(make_window, tmp_path, qtbot, fake_dialogs):
    d = tmp_path / "mixed"
    d.mkdir()
    write_image(d / "a.png", seed=1)
    write_image(d / "b.png", h=60, w=80, seed=2)
    w = make_window(d)
    _annotate_first(w, qtbot, fake_dialogs)
    w.go_to(1)
    assert w.copy_previous_objects() == 0 and w.state.objects == ()
    kind, title, text = fake_dialogs.messages[-1]
    assert kind == "warning" and title == "Cannot copy the objects" and "a.png is 120x90 px" in text, text
    assert "80x60" in text and "one size" in text


def test_an_unreadable_previous_image_is_a_message_not_a_crash(make_window, tmp_path, qtbot, fake_dialogs):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "a.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    write_image(d / "b.png", seed=2)
    w = make_window(d)  # a.jpg is skipped with a message, b.png opens
    assert w.current_image_path.name == "b.png"
    fake_dialogs.messages.clear()
    assert w.copy_previous_objects() == 0 and w.state.objects == ()
    assert fake_dialogs.messages[-1][1] == "Cannot copy the objects" and "a.jpg" in fake_dialogs.messages[-1][2]
