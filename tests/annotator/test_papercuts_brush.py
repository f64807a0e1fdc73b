"""Issue 17 papercut: the brush shows a circle of its size (scaled with the zoom); `[` `]` step it finely."""
import numpy as np
from PyQt5.QtCore import QEvent, QPointF, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QApplication

from annotator.widgets.brush_cursor import brush_step
from tests.window_factory import key


def _hover(w, x, y):
    vp = w.canvas.viewport()
    p = w.canvas.view_pos_of(x, y)
    QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, QPointF(p), Qt.NoButton, Qt.NoButton,
                                           Qt.NoModifier))


def _screen_diameter(w):
    """The circle's diameter on screen (view pixels)."""
    c = w.brush.circle
    t = c.deviceTransform(w.canvas.viewportTransform())
    return t.map(QPointF(c.radius, 0)).x() - t.map(QPointF(-c.radius, 0)).x()


def test_brush_steps_are_small_and_reversible():
    assert [brush_step(s, +1) for s in (1, 5, 9, 10, 20, 100)] == [2, 6, 10, 11, 22, 110]
    assert [brush_step(s, -1) for s in (1, 2, 10, 11, 20, 100)] == [1, 1, 9, 10, 18, 90]
    assert brush_step(500, +1) == 500


def test_brush_circle_follows_mouse_has_brush_size_and_scales_with_zoom(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    _hover(w, 30, 40)
    assert not w.brush.circle.isVisible(), "no circle with the click tool"
    assert not w.brush.label.isVisible()
    key(qtbot, w, Qt.Key_B)
    _hover(w, 30, 40)
    c = w.brush.circle
    assert c.isVisible() and abs(c.pos().x() - 30.5) < 0.6 and abs(c.pos().y() - 40.5) < 0.6
    assert c.radius == w.settings.brush_size == 12
    assert w.brush.label.isVisible() and w.brush.label.text() == "Brush 12 px"
    d1, s1 = _screen_diameter(w), w.canvas.scale_factor()
    assert abs(d1 - 24 * s1) < 1e-6
    w.canvas.zoom(2.0)
    assert abs(_screen_diameter(w) - 2 * d1) < 1e-6, "the circle scales with the canvas zoom"
    key(qtbot, w, Qt.Key_BracketRight)
    assert w.settings.brush_size == 13 and c.radius == 13 and w.brush.label.text() == "Brush 13 px"
    for _ in range(5):
        key(qtbot, w, Qt.Key_BracketLeft)
    assert w.settings.brush_size == 8 and c.radius == 8
    # a stroke paints what the circle covers: a dab of radius 8 image px
    vp = w.canvas.viewport()
    w.canvas.fit()
    w.add_click(60, 45)
    w.wait_for_inference()
    qtbot.mouseClick(vp, Qt.LeftButton, pos=w.canvas.view_pos_of(10, 10))
    m = w.current_mask()
    yy, xx = np.nonzero(m[:25, :25])
    assert abs(len(yy) - np.pi * 64) < 0.15 * np.pi * 64
    key(qtbot, w, Qt.Key_E)
    _hover(w, 60, 45)
    assert c.isVisible() and w.brush.label.isVisible(), "the eraser shows its circle too"
    key(qtbot, w, Qt.Key_C)
    assert not c.isVisible() and not w.brush.label.isVisible()


def test_brush_size_is_remembered(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    key(qtbot, w, Qt.Key_B)
    key(qtbot, w, Qt.Key_BracketRight)
    assert w.store.value("settings/brush_size") in (13, "13")
