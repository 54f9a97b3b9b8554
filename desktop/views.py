"""Image views: zoomable, pannable, synchronised, with draggable hint markers and a split mode.

Scene coordinates are the display image's pixels; hints are stored as fractions of the photo,
so the same hint sits on the same spot in the preview, the display image and the full photo.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
)

from rehue import contract
from rehue.contract import Hint

MARKER_RADIUS = 9.0  # on screen, whatever the zoom


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> QImage owning a copy (safe after the array is gone)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def hint_qcolor(hint: Hint, lightness: float = 62.0) -> QColor:
    """A hint's ab at a given lightness (its marker uses the lightness of the spot it is on)."""
    rgb = np.clip(contract.lab_to_rgb(np.array([[[lightness, hint.a, hint.b]]], np.float32)), 0, 1)[0, 0]
    return QColor(*(int(round(c * 255)) for c in rgb))


class HintMarker(QGraphicsEllipseItem):
    """A round, draggable marker filled with the hint's colour; its size ignores the zoom."""

    def __init__(self, view: ImageView, hint_id: int) -> None:
        r = MARKER_RADIUS
        super().__init__(-r, -r, 2 * r, 2 * r)
        self.view = view
        self.hint_id = hint_id
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self.setZValue(10)
        self._press_pos: QPointF | None = None
        # How far the hint reaches: a dashed ring in scene (photo) coordinates, so it zooms.
        self.ring = QGraphicsEllipseItem()
        pen = QPen(QColor("white"), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.ring.setPen(pen)
        self.ring.setZValue(9)
        self.ring.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.set_selected(False)

    def set_selected(self, selected: bool) -> None:
        self.setPen(QPen(QColor("#ffd500") if selected else QColor("white"), 3 if selected else 2))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.view.hint_delete_requested.emit(self.hint_id)
            event.accept()
            return
        self._press_pos = self.pos()
        self.view.hint_selected.emit(self.hint_id)
        super().mousePressEvent(event)

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and self.view.image_rect.isValid():
            r = self.view.image_rect
            return QPointF(min(max(value.x(), r.left()), r.right() - 0.01), min(max(value.y(), r.top()), r.bottom() - 0.01))
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            rect = self.ring.rect()
            self.ring.setRect(rect.translated(value - rect.center()))
        return super().itemChange(change, value)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if self._press_pos is not None and self.pos() != self._press_pos:
            x, y = self.view.to_fraction(self.pos())
            self.view.hint_moved.emit(self.hint_id, x, y)
        self._press_pos = None


class ImageView(QGraphicsView):
    """One photo (before or after), or both with a movable divider in split mode."""

    clicked = Signal(float, float)  # fractions of the photo
    hint_moved = Signal(int, float, float)
    hint_selected = Signal(int)
    hint_delete_requested = Signal(int)
    view_changed = Signal()
    zoom_changed = Signal(float)

    def __init__(self, parent=None, placeholder: str = "") -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setBackgroundBrush(QColor("#2b2b2b"))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 150)
        # QGraphicsView takes drags for its scene, whose items take none: a photo dropped on a pane
        # was refused (issue 25). Off here, Qt hands the drag to the window, which opens it.
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.placeholder = placeholder
        self.pixmap_item = QGraphicsPixmapItem()
        self.pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.pixmap_item)
        # Split mode: the "after" image clipped to the right of the divider.
        self.clip_item = QGraphicsRectItem()
        self.clip_item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self.clip_item.setPen(QPen(Qt.PenStyle.NoPen))
        self.after_item = QGraphicsPixmapItem(self.clip_item)
        self.after_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.divider = QGraphicsLineItem()
        self.divider.setPen(QPen(QColor("white"), 2, Qt.PenStyle.SolidLine))
        self.divider.setZValue(5)
        for item in (self.clip_item, self.divider):
            self.scene().addItem(item)
            item.setVisible(False)
        self.split_fraction = 0.5
        self.split = False
        self._dragging_divider = False
        self.markers: dict[int, HintMarker] = {}
        self.image_rect = QRectF()
        self.full_width = 0  # the photo's real width, for the 100 % zoom
        self._press_view_pos = None
        self._fit = True

    # ------------------------------------------------------------------ images
    def set_image(self, image: QImage | None, full_width: int = 0) -> None:
        """The base image (scene size = its size). None clears the view."""
        if image is None:
            self.pixmap_item.setPixmap(QPixmap())
            self.image_rect = QRectF()
            self.after_item.setPixmap(QPixmap())
            self.clear_markers()
        else:
            new_rect = QRectF(0, 0, image.width(), image.height())
            self.pixmap_item.setPixmap(QPixmap.fromImage(image))
            self.pixmap_item.setScale(1.0)
            changed = new_rect != self.image_rect
            self.image_rect = new_rect
            self.full_width = full_width or image.width()
            self.scene().setSceneRect(new_rect)
            if changed:
                self.fit()
        self._layout_split()
        self.viewport().update()

    def set_after_image(self, image: QImage) -> None:
        """In split mode, the colour image (scaled to the base image's size)."""
        pm = QPixmap.fromImage(image)
        self.after_item.setPixmap(pm)
        if pm.width():
            self.after_item.setScale(self.image_rect.width() / pm.width())
        self._layout_split()

    def replace_image(self, image: QImage) -> None:
        """New pixels for the same photo (maybe another resolution): keep the zoom and markers."""
        pm = QPixmap.fromImage(image)
        self.pixmap_item.setPixmap(pm)
        if pm.width() and self.image_rect.width():
            self.pixmap_item.setScale(self.image_rect.width() / pm.width())

    def set_split(self, on: bool) -> None:
        self.split = on
        self.clip_item.setVisible(on)
        self.divider.setVisible(on)
        self._layout_split()

    def _layout_split(self) -> None:
        r = self.image_rect
        x = r.left() + r.width() * self.split_fraction
        self.clip_item.setRect(QRectF(x, r.top(), r.right() - x, r.height()))
        self.divider.setLine(x, r.top(), x, r.bottom())

    # ------------------------------------------------------------------ zoom and sync
    def zoom_factor(self) -> float:
        """Current zoom relative to the photo's real pixels (1.0 = 100 %)."""
        if not self.image_rect.width():
            return 1.0
        return self.transform().m11() * self.image_rect.width() / max(1, self.full_width)

    def fit(self) -> None:
        if self.image_rect.isValid():
            self.fitInView(self.image_rect, Qt.AspectRatioMode.KeepAspectRatio)
            self._fit = True
            self._emit_zoom()

    def set_zoom(self, factor: float) -> None:
        """Zoom so that one photo pixel is ``factor`` screen pixels."""
        if not self.image_rect.width():
            return
        scale = factor * self.full_width / self.image_rect.width()
        scale = max(0.02, min(scale, 64.0))
        self.resetTransform()
        self.scale(scale, scale)
        self._fit = False
        self._emit_zoom()

    def zoom_by(self, step: float) -> None:
        self.set_zoom(self.zoom_factor() * step)

    def _emit_zoom(self) -> None:
        self.zoom_changed.emit(self.zoom_factor())
        self.view_changed.emit()

    def wheelEvent(self, event) -> None:
        if not self.image_rect.isValid():
            return
        step = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(step, step)
        self._fit = False
        self._emit_zoom()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.view_changed.emit()

    def follow(self, other: ImageView) -> None:
        """Take ``other``'s zoom and centre (synchronised side-by-side views)."""
        if not other.image_rect.isValid() or not self.image_rect.isValid():
            return
        self.setTransform(other.transform())
        self._fit = other._fit
        centre = other.mapToScene(other.viewport().rect().center())
        self.centerOn(centre)

    # ------------------------------------------------------------------ hints
    def to_fraction(self, p: QPointF) -> tuple[float, float]:
        r = self.image_rect
        return (min(max((p.x() - r.left()) / r.width(), 0.0), 1.0), min(max((p.y() - r.top()) / r.height(), 0.0), 1.0))

    def from_fraction(self, x: float, y: float) -> QPointF:
        r = self.image_rect
        return QPointF(r.left() + x * r.width(), r.top() + y * r.height())

    def clear_markers(self) -> None:
        for m in self.markers.values():
            self.scene().removeItem(m.ring)
            self.scene().removeItem(m)
        self.markers.clear()

    def sync_markers(self, items: list[tuple[int, Hint]], selected: int | None,
                     colour_of: Callable[[Hint], tuple[int, int, int]] | None = None) -> None:
        """Show exactly these hints: each marker filled with the colour it will render
        (``colour_of``), with a ring showing how far it reaches (its brush size)."""
        ids = {i for i, _ in items}
        for gone in set(self.markers) - ids:
            m = self.markers.pop(gone)
            self.scene().removeItem(m.ring)
            self.scene().removeItem(m)
        long_side = max(self.image_rect.width(), self.image_rect.height())
        for hint_id, hint in items:
            m = self.markers.get(hint_id)
            if m is None:
                m = HintMarker(self, hint_id)
                self.scene().addItem(m)
                self.scene().addItem(m.ring)
                self.markers[hint_id] = m
            centre = self.from_fraction(hint.x, hint.y)
            m.setPos(centre)
            colour = QColor(*colour_of(hint)) if colour_of else hint_qcolor(hint)
            m.setBrush(QBrush(colour))
            m.set_selected(hint_id == selected)
            r = hint.reach * long_side
            m.ring.setRect(QRectF(centre.x() - r, centre.y() - r, 2 * r, 2 * r))
            m.ring.setVisible(hint_id == selected)
            m.setToolTip(f"Hint {hint_id}: drag to move, right-click to delete")

    # ------------------------------------------------------------------ mouse
    def _near_divider(self, view_pos) -> bool:
        if not self.split:
            return False
        x = self.mapFromScene(self.divider.line().p1()).x()
        return abs(view_pos.x() - x) <= 6

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(event.position().toPoint()):
            self._dragging_divider = True
            event.accept()
            return
        self._press_view_pos = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._dragging_divider:
            p = self.mapToScene(event.position().toPoint())
            self.split_fraction = min(max((p.x() - self.image_rect.left()) / max(1.0, self.image_rect.width()), 0.0), 1.0)
            self._layout_split()
            event.accept()
            return
        if self.split:
            near = self._near_divider(event.position().toPoint())
            self.viewport().setCursor(Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.OpenHandCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._dragging_divider:
            self._dragging_divider = False
            event.accept()
            return
        press = self._press_view_pos
        self._press_view_pos = None
        item = self.itemAt(event.position().toPoint())
        super().mouseReleaseEvent(event)
        if (
            event.button() == Qt.MouseButton.LeftButton
            and press is not None
            and (event.position().toPoint() - press).manhattanLength() < 4
            and not isinstance(item, HintMarker)
        ):
            p = self.mapToScene(event.position().toPoint())
            if self.image_rect.contains(p):
                self.clicked.emit(*self.to_fraction(p))

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        if not self.image_rect.isValid() and self.placeholder:
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor("#bbbbbb"))
            f = painter.font()
            f.setPointSize(13)
            painter.setFont(f)
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.restore()
