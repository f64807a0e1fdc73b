"""The image canvas: zoom / pan, click markers, the translucent mask overlay, brush and eraser."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap
from PyQt5.QtWidgets import (QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem, QGraphicsPixmapItem,
                             QGraphicsScene, QGraphicsView)

from models.clicks import Click

#: Longest side of the overlay bitmap; larger images get a subsampled overlay scaled up on screen.
OVERLAY_MAX_SIDE = 2048
ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.005, 64.0

MODE_CLICK, MODE_BRUSH, MODE_ERASER = "click", "brush", "eraser"
MODE_VOID = "void"  # void brush: left drag paints VOC's void (ignore), right drag erases it


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of an HxWx3 uint8 array."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()


def label_edges(labels: np.ndarray) -> np.ndarray:
    """Pixels of labelled regions that touch another label (4-neighbourhood)."""
    e = np.zeros(labels.shape, dtype=bool)
    e[1:, :] |= labels[1:, :] != labels[:-1, :]
    e[:-1, :] |= labels[:-1, :] != labels[1:, :]
    e[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    e[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return e & (labels > 0)


def overlay_rgba(label_map: np.ndarray, colors: np.ndarray, opacity: float,
                 current: np.ndarray | None = None, current_color: Sequence[int] = (255, 255, 0),
                 outline: np.ndarray | None = None, hatch: np.ndarray | None = None,
                 edge_colors: np.ndarray | None = None) -> np.ndarray:
    """RGBA uint8 overlay: `colors[label]` at `opacity` with opaque borders, the current mask on top
    (outlined in white), `outline` (the selected object) in white, and `hatch` (the current object's
    overlap with finished objects) in red diagonal stripes. `edge_colors[label]` (annotator.contrast), when
    given, outlines each finished object opaquely."""
    a = int(round(255 * min(1.0, max(0.0, opacity))))
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[:, :3] = colors
    lut[1:, 3] = a
    out = lut[label_map]
    if label_map.any():
        edges = label_edges(label_map)
        out[..., 3][edges] = max(a, 220)
        if edge_colors is not None:
            out[edges] = np.concatenate([edge_colors[label_map[edges]],
                                         np.full((int(edges.sum()), 1), 255, np.uint8)], axis=1)
    if current is not None and current.any():
        out[current, :3] = current_color
        out[current, 3] = min(255, a + 30)
        edge = label_edges(current.astype(np.uint8))
        out[edge] = (255, 255, 255, 255)
    if outline is not None:
        out[outline] = (255, 255, 255, 230)
    if hatch is not None and hatch.any():
        yy, xx = np.nonzero(hatch)
        stripe = ((yy + xx) // 3) % 2 == 0
        out[yy[stripe], xx[stripe]] = (255, 40, 40, 255)
    return out


class Canvas(QGraphicsView):
    """Shows the image and its masks; emits clicks and brush strokes in image pixel coordinates."""

    clicked = pyqtSignal(float, float, bool)               # x, y, positive
    strokeFinished = pyqtSignal(object, float, bool)       # points [(x, y)], radius (image px), erase
    cursorMoved = pyqtSignal(int, int)                     # pixel under the cursor
    zoomChanged = pyqtSignal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.SmoothPixmapTransform, True)
        self.setRenderHint(QPainter.Antialiasing, True)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setDragMode(QGraphicsView.NoDrag)
        self.setBackgroundBrush(QColor(48, 48, 48))
        self.setContextMenuPolicy(Qt.NoContextMenu)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setTransformationMode(Qt.SmoothTransformation)
        self._overlay_item = QGraphicsPixmapItem()
        self._overlay_item.setZValue(1)
        self._stroke_item = QGraphicsPathItem()
        self._stroke_item.setZValue(3)
        for it in (self._image_item, self._overlay_item, self._stroke_item):
            self.scene().addItem(it)
        self._markers: list[QGraphicsEllipseItem] = []
        self._shape: tuple[int, int] | None = None
        self._fit_mode = True
        self._pan_from: QPointF | None = None
        self._stroke: list[tuple[float, float]] | None = None
        self._stroke_erase, self._stroke_button = False, Qt.LeftButton
        self.mode = MODE_CLICK
        self.brush_size = 12
        self.marker_size = 6
        self.show_clicks = True
        self._clicks: tuple[Click, ...] = ()
        self.placeholder = ""  # drawn in the middle of the view while no image is shown

    # ---- content -------------------------------------------------------------------------------
    @property
    def has_image(self) -> bool:
        """True once an image is shown."""
        return self._shape is not None

    def set_image(self, rgb: np.ndarray) -> None:
        """Show a new image, fitted to the window."""
        h, w = rgb.shape[:2]
        self._shape = (h, w)
        self._image_item.setPixmap(QPixmap.fromImage(rgb_to_qimage(rgb)))
        self._overlay_item.setPixmap(QPixmap())
        self.set_clicks(())
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        self.fit()

    def shown_image(self) -> QImage | None:
        """The image on screen (None when nothing is shown)."""
        return self._image_item.pixmap().toImage() if self._shape is not None else None

    def set_placeholder(self, text: str) -> None:
        """Say `text` in the view while no image is shown (why the canvas is empty)."""
        if text != self.placeholder:
            self.placeholder = text
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt override
        super().drawForeground(painter, rect)
        if self._shape is None and self.placeholder:
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor(220, 220, 220))
            f = painter.font()
            f.setPointSizeF(f.pointSizeF() * 1.3)
            painter.setFont(f)
            painter.drawText(self.viewport().rect().adjusted(20, 20, -20, -20), Qt.AlignCenter | Qt.TextWordWrap,
                             self.placeholder)
            painter.restore()

    def clear(self) -> None:
        """Show nothing."""
        self._shape = None
        self._image_item.setPixmap(QPixmap())
        self._overlay_item.setPixmap(QPixmap())
        self.set_clicks(())

    def overlay_step(self) -> int:
        """Subsampling step of the overlay bitmap for the current image."""
        if self._shape is None:
            return 1
        return max(1, math.ceil(max(self._shape) / OVERLAY_MAX_SIDE))

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        """Show an RGBA overlay made at `overlay_step()` subsampling (None clears it)."""
        if rgba is None or self._shape is None:
            self._overlay_item.setPixmap(QPixmap())
            return
        rgba = np.ascontiguousarray(rgba)
        h, w = rgba.shape[:2]
        img = QImage(rgba.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()
        self._overlay_item.setPixmap(QPixmap.fromImage(img))
        step = self.overlay_step()
        self._overlay_item.setScale(step)
        self._overlay_item.setTransformationMode(Qt.FastTransformation if step == 1 else Qt.SmoothTransformation)

    def overlay_visible(self) -> bool:
        """True when an overlay bitmap is shown."""
        return not self._overlay_item.pixmap().isNull()

    def set_clicks(self, clicks: Sequence[Click]) -> None:
        """Draw markers (green positive, red negative) at constant screen size."""
        clicks = tuple(clicks)
        r = float(self.marker_size)
        # Keep the markers of the unchanged leading clicks: an added or undone click touches one marker
        # (rebuilding all of them made each click O(n^2) in the scene index; thousands froze the GUI).
        keep = 0
        if getattr(self, "_markers_r", r) == r:
            for old, new in zip(self._clicks, clicks):
                if old != new:
                    break
                keep += 1
        keep = min(keep, len(self._markers))
        for m in self._markers[keep:]:
            self.scene().removeItem(m)
        self._markers = self._markers[:keep]
        self._clicks, self._markers_r = clicks, r
        for c in self._clicks[keep:]:
            item = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r)
            item.setFlag(QGraphicsItem.ItemIgnoresTransformations, True)
            item.setPos(QPointF(c.x + 0.5, c.y + 0.5))
            item.setBrush(QBrush(QColor(40, 220, 60) if c.positive else QColor(235, 45, 45)))
            item.setPen(QPen(QColor(255, 255, 255), 1.5))
            item.setZValue(4)
            item.setVisible(self.show_clicks)
            self.scene().addItem(item)
            self._markers.append(item)

    def set_show_clicks(self, show: bool) -> None:
        """Show or hide the click markers."""
        self.show_clicks = show
        for m in self._markers:
            m.setVisible(show)

    def marker_items(self) -> list[QGraphicsEllipseItem]:
        """The marker items currently drawn (for tests and screenshots)."""
        return list(self._markers)

    # ---- view ----------------------------------------------------------------------------------
    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def fit(self) -> None:
        """Fit the whole image in the window."""
        self._fit_mode = True
        if self._shape is not None:
            self.fitInView(self._image_item, Qt.KeepAspectRatio)
            self.zoomChanged.emit(self.scale_factor())

    def actual_size(self) -> None:
        """Show the image at 1:1 (one image pixel per screen pixel)."""
        self._fit_mode = False
        centre = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(centre)
        self.zoomChanged.emit(1.0)

    def zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by `factor` keeping the scene point under `anchor` (view coords) in place."""
        s = self.scale_factor()
        factor = min(MAX_SCALE / s, max(MIN_SCALE / s, factor))
        self._fit_mode = False
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.AnchorViewCenter)
            self.scale(factor, factor)
            self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        else:
            before = self.mapToScene(anchor.toPoint())
            self.setTransformationAnchor(QGraphicsView.NoAnchor)
            self.scale(factor, factor)
            after = self.mapToScene(anchor.toPoint())
            d = after - before
            self.translate(d.x(), d.y())
            self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.zoomChanged.emit(self.scale_factor())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event) -> None:  # noqa: N802
        dy = event.angleDelta().y()
        if dy:
            self.zoom(ZOOM_STEP ** (dy / 120.0), QPointF(event.pos()))
        event.accept()

    # ---- mouse ---------------------------------------------------------------------------------
    def image_pos(self, view_pos) -> tuple[float, float]:
        """Image (x, y) under a viewport position."""
        p = self.mapToScene(view_pos)
        return p.x(), p.y()

    def view_pos_of(self, x: float, y: float):
        """Viewport position of the centre of image pixel (x, y)."""
        return self.mapFromScene(QPointF(x + 0.5, y + 0.5))

    def _inside(self, x: float, y: float) -> bool:
        return self._shape is not None and 0 <= x < self._shape[1] and 0 <= y < self._shape[0]

    def mousePressEvent(self, event) -> None:  # noqa: N802
        btn = event.button()
        if btn == Qt.MiddleButton or (btn == Qt.LeftButton and event.modifiers() & Qt.ControlModifier):
            self._pan_from = QPointF(event.pos())
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        x, y = self.image_pos(event.pos())
        if not self._inside(x, y):
            event.accept()
            return
        self.cursorMoved.emit(int(x), int(y))  # the status bar names the clicked pixel even without a move before
        if self.mode == MODE_CLICK and btn in (Qt.LeftButton, Qt.RightButton):
            self.clicked.emit(float(math.floor(x)), float(math.floor(y)), btn == Qt.LeftButton)
        elif (self.mode in (MODE_BRUSH, MODE_ERASER) and btn == Qt.LeftButton) or \
                (self.mode == MODE_VOID and btn in (Qt.LeftButton, Qt.RightButton)):
            self._stroke, self._stroke_button = [(x, y)], btn
            self._stroke_erase = self.mode == MODE_ERASER or btn == Qt.RightButton
            self._update_stroke_item()
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            d = QPointF(event.pos()) - self._pan_from
            self._pan_from = QPointF(event.pos())
            self.horizontalScrollBar().setValue(int(self.horizontalScrollBar().value() - d.x()))
            self.verticalScrollBar().setValue(int(self.verticalScrollBar().value() - d.y()))
            self._fit_mode = False
            event.accept()
            return
        x, y = self.image_pos(event.pos())
        if self._inside(x, y):
            self.cursorMoved.emit(int(x), int(y))
        if self._stroke is not None:
            self._stroke.append((x, y))
            self._update_stroke_item()
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        if self._stroke is not None and event.button() == self._stroke_button:
            pts, self._stroke = self._stroke, None
            self._stroke_item.setPath(QPainterPath())
            self.strokeFinished.emit(pts, self.brush_radius_image(), self._stroke_erase)
        event.accept()

    def brush_radius_image(self) -> float:
        """The brush radius in image pixels (the brush cursor shows it, scaled with the zoom)."""
        return max(0.5, float(self.brush_size))

    def _update_stroke_item(self) -> None:
        if not self._stroke:
            return
        path = QPainterPath(QPointF(*self._stroke[0]))
        for p in self._stroke[1:]:
            path.lineTo(QPointF(*p))
        if len(self._stroke) == 1:
            path.lineTo(QPointF(self._stroke[0][0] + 0.01, self._stroke[0][1]))
        col = QColor(255, 255, 255, 110) if self.mode == MODE_ERASER else QColor(255, 255, 0, 110)
        if self.mode == MODE_VOID:
            col = QColor(255, 255, 255, 110) if self._stroke_erase else QColor(90, 90, 90, 150)
        pen = QPen(col, 2 * self.brush_radius_image(), Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
        self._stroke_item.setPen(pen)
        self._stroke_item.setPath(path)

    def set_mode(self, mode: str) -> None:
        """Switch between click, brush and eraser."""
        self.mode = mode
        self.viewport().setCursor(Qt.CrossCursor)
