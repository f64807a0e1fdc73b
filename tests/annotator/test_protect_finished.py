"""Issue 15 item 1: finishing a new object next to a finished one never takes its pixels (unless asked)."""
import numpy as np
from PyQt5.QtCore import Qt

from annotator import label_file
from annotator.state import AnnotationState
from models.clicks import Click
from models.fileio import read_index_png
from tests.window_factory import click, key


def _two_adjacent(w, qtbot):
    """Finish a disc at (40, 45), then one at (58, 45) that overlaps it (FakePredictor radius 12)."""
    click(qtbot, w, 40, 45)
    assert w.wait_for_inference(10)
    key(qtbot, w, Qt.Key_Space)
    first = int(w.state.objects[0].mask.sum())
    click(qtbot, w, 58, 45)
    assert w.wait_for_inference(10)
    return first


def test_finished_object_keeps_its_pixels(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    assert w.actions_by_name["protect_finished"].isChecked(), "protected by default"
    first = _two_adjacent(w, qtbot)
    over = w.state.current_overlap()
    assert over is not None and over.sum() > 50, "the overlap is known before finishing"
    assert "overlap finished objects" in w.statusBar().currentMessage()
    assert f"{int(over.sum()):,} px" in w.statusBar().currentMessage()
    shown = w.current_mask()
    assert not (shown & w.state.objects[0].mask).any(), "the mask on screen leaves the first object alone"
    key(qtbot, w, Qt.Key_Space)
    assert len(w.state.objects) == 2 and w.save()
    inst = read_index_png(label_file.paths_for(w.output_dir, w.images[0]).object_png)
    assert int((inst == 1).sum()) == first, "the first object keeps every pixel in the saved mask"
    assert int((inst == 2).sum()) == int(w.state.objects[1].mask.sum()) > 0


def test_protection_off_restores_the_old_behaviour(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    w.actions_by_name["protect_finished"].trigger()  # Edit → Protect Finished Objects off
    assert w.settings.protect_finished is False
    assert w.store.value("settings/protect_finished") in (False, "false"), "the choice is persisted"
    first = _two_adjacent(w, qtbot)
    assert "finishing takes them" in w.statusBar().currentMessage()
    key(qtbot, w, Qt.Key_Space)
    cls, inst = w.state.label_maps()
    assert 0 < int((inst == 1).sum()) < first, "with protection off the new object takes the overlap"


def test_overlap_is_hatched_on_the_canvas(make_window, image_folder, qtbot):
    from annotator.widgets.canvas import overlay_rgba

    w = make_window(image_folder)
    _two_adjacent(w, qtbot)
    st = w.state
    over = st.current_overlap()
    labels = np.zeros(st.shape, np.uint8)
    labels[st.objects[0].mask] = 1
    colors = np.zeros((256, 3), np.uint8)
    colors[1] = (0, 0, 255)
    plain = overlay_rgba(labels, colors, 0.5, w.current_mask(), (255, 255, 0))
    hatched = overlay_rgba(labels, colors, 0.5, w.current_mask(), (255, 255, 0), None, over)
    changed = (plain != hatched).any(axis=2)
    assert changed.any() and not changed[~over].any(), "stripes drawn exactly inside the overlap"


def test_resumed_object_keeps_its_own_pixels():
    st = AnnotationState((40, 60))
    st.protect_finished = True
    a, b = np.zeros((40, 60), bool), np.zeros((40, 60), bool)
    a[5:20, 5:30], b[10:30, 20:50] = True, True
    st.set_prediction((Click(10, 10, True),), False, a.astype(np.float32))
    st.add_click(Click(10, 10, True))
    st.finish_object()
    st.set_prediction((Click(40, 20, True),), False, b.astype(np.float32))
    st.add_click(Click(40, 20, True))
    first = st.finish_object()
    assert first is not None and not (first.mask & a).any()
    second_uid = st.objects[1].uid
    assert st.resume(st.objects[0].uid)
    assert np.array_equal(st.current_mask(), a), "an edited object is not cut by what it already held"
    assert st.objects[0].uid == second_uid
