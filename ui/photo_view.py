"""A photo to look at closely: zoom around the cursor, drag to pan, turn by quarter turns."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

ZOOM_STEP = 1.25


class PhotoView(QGraphicsView):
    """Fitted to the window until the user zooms. wheel_zooms=False leaves the plain wheel to
    scrolling (Ctrl+wheel zooms), for a view inside a form."""

    def __init__(self, parent: QWidget | None = None, *, wheel_zooms: bool = True) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item: QGraphicsPixmapItem | None = None
        self.wheel_zooms = wheel_zooms
        self.angle = 0
        self.zoom = 1.0
        self.fitted = True
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)

    def set_image(self, image: QImage) -> None:
        if self.item is None:
            self.item = self.scene().addPixmap(QPixmap())
            self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())
        self.angle = 0
        self.fit()

    def _apply(self) -> None:
        self.resetTransform()
        self.rotate(self.angle)
        self.scale(self.zoom, self.zoom)

    def fit(self) -> None:
        self.fitted = True
        if self.item is None:
            return
        self.resetTransform()
        self.rotate(self.angle)
        self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom = math.hypot(self.transform().m11(), self.transform().m12())

    def zoom_by(self, factor: float) -> None:
        self.fitted = False
        self.zoom = max(0.05, min(self.zoom * factor, 20.0))
        self._apply()

    def rotate_by(self, degrees: int) -> None:
        self.angle = (self.angle + degrees) % 360
        if self.fitted:
            self.fit()
        else:
            self._apply()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.wheel_zooms or event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP)
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()
