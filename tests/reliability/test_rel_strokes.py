"""Brush strokes: what the writer writes, the reader reads (issue 15, item 10), also for strokes that leave
the image."""
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PyQt5.QtCore import QEvent, QPointF, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QApplication

from annotator import label_file
from annotator.state import AnnotationState, ClassTable, Stroke, apply_strokes, clip_stroke
from tests.reliability.killloop import make_image_folder

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])
coord = st.floats(-3000, 3000, allow_nan=False) | st.floats(-60, 90, allow_nan=False)
strokes = st.lists(st.tuples(st.lists(st.tuples(coord, coord), min_size=1, max_size=8),
                             st.floats(0.2, 400) | st.floats(0.5, 12), st.booleans()), min_size=1, max_size=4)


@FAST
@given(strokes, st.integers(0, 2))
def test_random_strokes_round_trip_through_the_sidecar(tmp_path_factory, figures, raw, finish):
    shape = (30, 44)
    st_ = AnnotationState(shape, ClassTable())
    for pts, r, erase in raw:
        st_.add_stroke(Stroke(tuple(pts), r, erase))
    if not st_.current.strokes:
        return
    before = st_.current_mask().copy()
    if finish and before.any():
        assert st_.finish_object() is not None
    out = tmp_path_factory.mktemp("s")
    label_file.save(out, out / "a.png", st_)
    loaded = label_file.load(out, out / "a.png", shape)  # raised "malformed brush stroke" before the fix
    again = AnnotationState(shape, ClassTable())
    again.load_objects(loaded.objects, loaded.current)
    if finish and before.any():
        (o,) = again.objects
        assert o.strokes == st_.objects[0].strokes and np.array_equal(o.mask, before)
    else:
        assert again.current.strokes == st_.current.strokes
        assert np.array_equal(again.current_mask(), before), "the unfinished object reloads the same mask"
    figures["inputs"] += 1


def _distance_to_polyline(points, shape):
    """Distance of every pixel centre to the polyline (pixel (x, y) has its centre at (x, y))."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    pts = np.round(np.asarray(points, np.float64))  # apply_strokes draws at whole pixels
    best = np.hypot(xx - pts[0, 0], yy - pts[0, 1])
    for (ax, ay), (bx, by) in zip(pts, pts[1:]):
        dx, dy = bx - ax, by - ay
        t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
        best = np.minimum(best, np.hypot(xx - ax - t * dx, yy - ay - t * dy))
    return best


@FAST
@given(strokes)
def test_clipping_paints_what_the_drag_painted(figures, raw):
    """Clipped strokes paint the raw strokes' pixels; a pixel may differ only on the edge of the band
    (the clipped end is drawn at a whole pixel: the line can tilt by under a pixel)."""
    shape = (30, 44)
    base = np.zeros(shape, bool)
    base[5:20, 10:30] = True
    for pts, r, erase in raw:
        r = min(r, 2 * max(shape))  # the radius cap is a deliberate change; compare below it
        s = Stroke(tuple(pts), r, erase)
        c = clip_stroke(s, shape)
        want = apply_strokes(base, [s])
        got = apply_strokes(base, [c]) if c is not None else base
        # cv2 paints up to ~1.4 px beyond half its line width; the tilt adds under a pixel
        half = round(max(0.5, r)) + 0.5
        near_edge = np.abs(_distance_to_polyline(pts, shape) - half) <= 2.5
        assert not ((want ^ got) & ~near_edge).any(), (s, c)
        if c is not None:
            far = 4 * max(shape)  # what the sidecar reader accepts
            assert 0 < c.radius <= far and all(abs(v) <= far for p in c.points for v in p)
    figures["inputs"] += 1


def test_brush_drag_ending_outside_the_image_saves_and_reopens(tmp_path, window, dialogs_rec, qtbot):
    folder = make_image_folder(tmp_path / "images", n=2)
    w = window(folder)
    w.set_tool("brush")
    cv = w.canvas
    vp = cv.viewport()
    path = [(20, 20), (30, 22), (60, 25), (400, 30), (3000, -900)]  # leaves the 56x40 image far to the right
    pos = [cv.view_pos_of(x, y) for x, y in path]
    qtbot.mousePress(vp, Qt.LeftButton, pos=pos[0])
    for p in pos[1:]:
        QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, QPointF(p), Qt.NoButton, Qt.LeftButton,
                                               Qt.NoModifier))
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=pos[-1])
    (stroke,) = w.state.current.strokes
    mask = w.current_mask().copy()
    assert mask[20, 20] and mask[25, 55], "painted up to the image's right edge"
    assert w.finish_object() and not w.dirty
    assert w.next_image() and w.prev_image()
    assert dialogs_rec.errors() == [], dialogs_rec.errors()
    (o,) = w.state.objects
    assert o.strokes == (stroke,) and np.array_equal(o.mask, mask)
    assert not list((folder / "annotations").glob("*.broken-*"))


def test_sidecar_written_before_strokes_were_clipped_reopens(tmp_path, window, dialogs_rec):
    """Files of the old writer (a stroke ending thousands of pixels out) open; their strokes are clipped."""
    folder = make_image_folder(tmp_path / "images", n=1)
    h, w = 40, 56
    mask = np.zeros((h, w), bool)
    mask[10:20, 10:56] = True
    old = {"points": [[12.0, 15.0], [5000.0, 15.0]], "radius": 4.0, "erase": False}
    doc = {"format": "ifcn-annotation", "version": 1, "image": "im0.png", "size": [w, h], "classes": [],
           "objects": [{"instance": 1, "class": 1, "clicks": [], "strokes": [old],
                        "mask": {"rle": label_file.rle_encode(mask)}}],
           "current": {"class": 1, "clicks": [], "strokes": [old]}}
    (folder / "annotations").mkdir()
    (folder / "annotations" / "im0.json").write_text(json.dumps(doc))
    win = window(folder)
    assert dialogs_rec.errors() == []
    (o,) = win.state.objects
    assert np.array_equal(o.mask, mask)
    assert all(abs(v) <= 4 * w for p in o.strokes[0].points for v in p)
    raw = win.state.raw_current_mask()
    assert raw[15, 12:].all(), "the unfinished stroke still paints to the image's edge"
    # protect-finished (issue 15 item 1): the finished object keeps its pixels, the current mask leaves them
    assert np.array_equal(win.current_mask(), raw & ~mask)
