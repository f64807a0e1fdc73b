"""The void brush (issue 17, "Ignore / void regions"): paints VOC's 255 into both PNGs, round trips through
the sidecar, shows hatched, erases and undoes like any edit."""
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PyQt5.QtCore import QEvent, QPointF, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QApplication

from annotator import label_file, void_tool
from annotator.state import AnnotationState, ClassTable, Stroke, apply_strokes
from annotator.widgets.canvas import MODE_VOID
from models.fileio import read_index_png
from tests.window_factory import click, key


def drag(qtbot, w, path, button=Qt.LeftButton):
    """A real mouse drag through image pixels `path` on the canvas."""
    cv, vp = w.canvas, w.canvas.viewport()
    pos = [cv.view_pos_of(x, y) for x, y in path]
    qtbot.mousePress(vp, button, pos=pos[0])
    for p in pos[1:]:
        QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, QPointF(p), Qt.NoButton, button, Qt.NoModifier))
    qtbot.mouseRelease(vp, button, pos=pos[-1])


def _pngs(folder, stem="img0"):
    return (read_index_png(folder / "SegmentationClass" / f"{stem}.png"),
            read_index_png(folder / "SegmentationObject" / f"{stem}.png"))


def test_void_brush_paints_255_into_both_pngs_and_reopens(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    click(qtbot, w, 60, 45)
    assert w.wait_for_inference() and w.finish_object()
    key(qtbot, w, Qt.Key_V)  # the void brush's key
    assert w.canvas.mode == MODE_VOID and w.actions_by_name["tool_void"].isChecked()
    w.set_brush_size(3)
    drag(qtbot, w, [(40, 45), (80, 45)])  # across the object
    drag(qtbot, w, [(5, 80), (20, 80)])  # on the background
    void = w.state.void.mask(w.state.shape)
    assert void[45, 60] and void[80, 10] and not void[10, 10]
    assert w.dirty and w.save()
    cls, inst = _pngs(image_folder)
    assert np.array_equal(cls == 255, void) and np.array_equal(inst == 255, void)
    assert (inst == 1).any() and (cls[inst == 1] == w.state.objects[0].class_index).all()
    doc = json.loads((image_folder / "annotations" / "img0.json").read_text())
    assert np.array_equal(label_file.rle_decode(doc["void"]["rle"], void.shape), void)
    assert list(doc)[-1] == "current", "the unfinished-object check reads the sidecar's tail"
    assert w.next_image() and w.prev_image()
    assert np.array_equal(w.state.void.mask(w.state.shape), void) and not w.dirty
    (o,) = w.state.objects
    assert o.mask[45, 60], "the object keeps its pixels under the void (shown again where void is erased)"


def test_void_shows_hatched_and_erases_and_undoes(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    w.set_tool(MODE_VOID)
    w.set_brush_size(4)
    drag(qtbot, w, [(30, 30), (60, 30)])
    painted = w.state.void.mask(w.state.shape).copy()
    rgba = void_tool.hatch_void(np.zeros((*painted.shape, 4), np.uint8), painted)
    assert {tuple(rgba[30, x]) for x in range(30, 60)} == {void_tool.GROUND, void_tool.STRIPE}
    shown = w.canvas._overlay_item.pixmap().toImage()
    assert not shown.isNull() and shown.pixelColor(45, 30).alpha() > 0, "the void is on the canvas"
    assert shown.pixelColor(5, 5).alpha() == 0
    drag(qtbot, w, [(40, 30), (50, 30)], Qt.RightButton)  # right drag erases void
    after = w.state.void.mask(w.state.shape)
    assert not after[30, 45] and after[30, 32]
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert np.array_equal(w.state.void.mask(w.state.shape), painted)
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert not w.state.void.any(w.state.shape) and not w.state.can_undo
    key(qtbot, w, Qt.Key_Y, Qt.ControlModifier)
    assert np.array_equal(w.state.void.mask(w.state.shape), painted)
    assert w.state.current.is_empty, "void strokes are not the current object's brush edits"


def test_void_only_image_is_saved_with_background_and_255(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    w.set_tool(MODE_VOID)
    drag(qtbot, w, [(10, 10), (20, 12)])
    assert w.save()
    cls, inst = _pngs(image_folder)
    assert set(np.unique(cls)) == {0, 255} and np.array_equal(cls, inst)


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])
coord = st.floats(-3000, 3000, allow_nan=False) | st.floats(-60, 90, allow_nan=False)


@FAST
@given(st.lists(st.tuples(st.lists(st.tuples(coord, coord), min_size=1, max_size=6),
                          st.floats(0.2, 400) | st.floats(0.5, 12), st.booleans()), min_size=1, max_size=5))
def test_random_void_strokes_round_trip_through_the_sidecar(tmp_path_factory, raw):
    """What the writer writes, the reader reads: the void of clipped random strokes reloads exactly and
    equals the unclipped strokes' pixels away from the band's edge."""
    shape = (30, 44)
    s = AnnotationState(shape, ClassTable())
    for pts, r, erase in raw:
        s.add_void_stroke(Stroke(tuple(pts), r, erase))
    void = s.void.mask(shape).copy()
    out = tmp_path_factory.mktemp("v")
    label_file.save(out, out / "a.png", s)
    loaded = label_file.load(out, out / "a.png", shape)
    assert not loaded.needs_resave
    assert np.array_equal(loaded.void.mask(shape), void)
    cls, inst = (read_index_png(out / d / "a.png") for d in ("SegmentationClass", "SegmentationObject"))
    assert np.array_equal(cls == 255, void) and np.array_equal(inst == 255, void)
    raw_void = apply_strokes(np.zeros(shape, bool), [Stroke(tuple(p), min(r, 88), e) for p, r, e in raw])
    assert (raw_void ^ void).mean() < 0.2  # clipping may tilt a line by under a pixel (test_rel_strokes)


def test_void_layer_mask_is_cached_and_incremental():
    s = AnnotationState((20, 20), ClassTable())
    s.add_void_stroke(Stroke(((2, 2),), 1))
    m1 = s.void.mask(s.shape)
    assert s.void.mask(s.shape) is m1 and not m1.flags.writeable
    s.add_void_stroke(Stroke(((15, 15),), 1))
    m2 = s.void.mask(s.shape)
    assert m2[2, 2] and m2[15, 15] and not m1[15, 15]


def test_bad_void_in_sidecar_is_refused_naming_the_file(tmp_path):
    s = AnnotationState((10, 12), ClassTable())
    s.add_void_stroke(Stroke(((3, 3),), 2))
    label_file.save(tmp_path, tmp_path / "a.png", s)
    p = tmp_path / "annotations" / "a.json"
    doc = json.loads(p.read_text())
    doc["void"]["rle"] = [5, 5]
    p.write_text(json.dumps(doc))
    try:
        label_file.load(tmp_path, tmp_path / "a.png", (10, 12))
    except Exception as e:  # noqa: BLE001 - the type is checked below
        assert type(e).__name__ == "AnnotationFileError" and str(p) in str(e) and "void" in str(e)
    else:
        raise AssertionError("a void that does not cover the image was accepted")
