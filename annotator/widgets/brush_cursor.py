"""The brush's size: a circle cursor of exactly the area a stroke paints, `[` / `]` steps, its status field."""
from __future__ import annotations

from typing import Any

from PyQt5.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PyQt5.QtGui import QColor, QPainter, QPen
from PyQt5.QtWidgets import QGraphicsItem, QLabel

MIN_SIZE, MAX_SIZE = 1, 500  # brush radius in image pixels (Settings.brush_size)


def brush_step(size: int, direction: int) -> int:
    """The next brush radius up (`direction` > 0) or down: 1 px steps up to 10 px, then about 10 %."""
    step = 1 if (size < 10 or (direction < 0 and size <= 10)) else max(1, round(size * 0.1))
    return min(MAX_SIZE, max(MIN_SIZE, int(size) + (step if direction > 0 else -step)))


class BrushCircle(QGraphicsItem):
    """A circle of `radius` image pixels, drawn dark and light so it shows on any image."""

    def __init__(self) -> None:
        super().__init__()
        self.radius = 12.0
        self.setZValue(5)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self.setVisible(False)

    def set_radius(self, r: float) -> None:
        """Change the circle's radius (image pixels)."""
        self.prepareGeometryChange()
        self.radius = float(r)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        r = self.radius + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        r = self.radius
        for color, width in ((QColor(0, 0, 0, 200), 3.0), (QColor(255, 255, 255, 230), 1.2)):
            pen = QPen(color, width)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.NoBrush)
            painter.drawEllipse(QPointF(0, 0), r, r)


class BrushCursor(QObject):
    """Owns the brush size of a MainWindow: the circle under the mouse (brush and eraser tools), the
    `[` / `]` steps and the "Brush N px" status field."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window_ = window
        self.canvas = window.canvas
        self.circle = BrushCircle()
        self.canvas.scene().addItem(self.circle)
        self.label = QLabel()
        self.label.setContentsMargins(6, 0, 6, 0)
        self.label.setToolTip("Brush radius in image pixels ([ smaller, ] larger)")
        window.statusBar().addPermanentWidget(self.label)
        self.canvas.viewport().installEventFilter(self)
        for name, act in window.actions_by_name.items():
            if name.startswith("tool_"):
                act.toggled.connect(lambda _on: self._sync())
        self.apply(window.settings.brush_size)

    @property
    def size(self) -> int:
        """The brush radius in image pixels."""
        return int(self.canvas.brush_size)

    def painting(self) -> bool:
        """True while a painting tool (brush, eraser…) is active."""
        return self.canvas.mode != "click"

    def apply(self, size: float) -> None:
        """Use radius `size` (image pixels, clamped) without saving it."""
        self.canvas.brush_size = min(MAX_SIZE, max(MIN_SIZE, int(round(size))))
        self.circle.set_radius(self.canvas.brush_radius_image())
        self._sync()

    def set_size(self, size: float) -> None:
        """Use and remember radius `size` (image pixels)."""
        self.window_._update_settings(brush_size=min(MAX_SIZE, max(MIN_SIZE, int(round(size)))))
        self.apply(self.window_.settings.brush_size)
        self.window_.statusBar().showMessage(f"Brush radius {self.size} px", 2000)

    def step(self, direction: int) -> None:
        """`[` (direction -1) / `]` (+1): a small step smaller or larger."""
        self.set_size(brush_step(self.size, direction))

    def _sync(self) -> None:
        on = self.painting()
        self.label.setText(f"Brush {self.size} px" if on else "")
        self.label.setVisible(on)
        if not on:
            self.circle.setVisible(False)
        else:
            pos = self.canvas.viewport().mapFromGlobal(self.canvas.cursor().pos())
            self._follow(pos)

    def _follow(self, view_pos) -> None:
        inside = self.canvas.has_image and self.canvas.viewport().rect().contains(view_pos)
        self.circle.setVisible(self.painting() and inside)
        if inside:
            self.circle.setPos(self.canvas.mapToScene(view_pos))

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        t = event.type()
        if t == QEvent.MouseMove:
            self._follow(event.pos())
        elif t == QEvent.Leave:
            self.circle.setVisible(False)
        return False
