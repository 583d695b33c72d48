"""The election forensics pictures: the turnout histogram and turnout against the leader's
share, one dot per station, drawn with QPainter (no chart library) and saved as PNG."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QTransform
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.forensics import Forensics, station_points
from app.protocols import SOURCES
from ui import dialogs, errors
from ui.worker import Worker

BINS = 50  # turnout in 2% steps
MARGIN = 44.0
PNG_SIZE = (1200, 800)


class Chart(QWidget):
    """Base for the two pictures: axes from 0 to 100%, a title, drawn into any rectangle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: Forensics | None = None
        self.title = ""
        self.x_label = ""
        self.y_label = ""
        self.setMinimumSize(360, 260)

    def set_data(self, data: Forensics | None) -> None:
        self.data = data
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self.draw(painter, QRectF(self.rect()))
        finally:
            painter.end()

    def save_png(self, path: Path) -> bool:
        image = QImage(*PNG_SIZE, QImage.Format.Format_ARGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        try:
            self.draw(painter, QRectF(0, 0, *PNG_SIZE))
        finally:
            painter.end()
        return image.save(str(path), "PNG")

    def plot_area(self, rect: QRectF) -> QRectF:
        return rect.adjusted(MARGIN + 10, MARGIN, -MARGIN / 2, -MARGIN)

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(rect, QColor("white"))
        area = self.plot_area(rect)
        painter.setPen(QPen(QColor("#424242"), 1))
        painter.drawText(QRectF(rect.left(), rect.top() + 4, rect.width(), MARGIN - 8),
                         Qt.AlignmentFlag.AlignCenter, self.title)
        painter.drawLine(area.bottomLeft(), area.bottomRight())
        painter.drawLine(area.bottomLeft(), area.topLeft())
        for pct in range(0, 101, 20):
            x = area.left() + area.width() * pct / 100
            painter.drawLine(QPointF(x, area.bottom()), QPointF(x, area.bottom() + 4))
            painter.drawText(QRectF(x - 20, area.bottom() + 4, 40, 16),
                             Qt.AlignmentFlag.AlignCenter, f"{pct}%")
        painter.drawText(QRectF(area.left(), area.bottom() + 20, area.width(), 18),
                         Qt.AlignmentFlag.AlignCenter, self.x_label)
        painter.save()
        turn = QTransform.fromTranslate(rect.left() + 12, area.center().y())
        painter.setTransform(turn.rotate(-90), True)
        painter.drawText(QRectF(-area.height() / 2, -10, area.height(), 18),
                         Qt.AlignmentFlag.AlignCenter, self.y_label)
        painter.restore()
        if self.data is None or not self.data.points:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.empty_text())
            return
        self.draw_data(painter, area, self.data)

    def empty_text(self) -> str:
        return self.tr("No station has the figures yet")

    def draw_data(self, painter: QPainter, area: QRectF, data: Forensics) -> None:
        raise NotImplementedError


class TurnoutHistogram(Chart):
    def counts(self) -> list[int]:
        counts = [0] * BINS
        for p in self.data.points if self.data else ():
            counts[min(int(p.turnout * BINS), BINS - 1)] += 1
        return counts

    def draw_data(self, painter: QPainter, area: QRectF, data: Forensics) -> None:
        counts = self.counts()
        top = max(counts) or 1
        width = area.width() / BINS
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#1565c0"))
        for i, n in enumerate(counts):
            h = area.height() * n / top
            painter.drawRect(QRectF(area.left() + i * width + 1, area.bottom() - h, width - 2, h))
        painter.setPen(QColor("#424242"))
        painter.drawText(QRectF(area.left() - MARGIN, area.top() - 8, MARGIN - 4, 16),
                         Qt.AlignmentFlag.AlignRight, str(top))


class TurnoutScatter(Chart):
    def draw_data(self, painter: QPainter, area: QRectF, data: Forensics) -> None:
        for pct in range(0, 101, 20):
            y = area.bottom() - area.height() * pct / 100
            painter.drawText(QRectF(area.left() - MARGIN, y - 8, MARGIN - 4, 16),
                             Qt.AlignmentFlag.AlignRight, f"{pct}%")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(198, 40, 40, 110))
        for p in data.points:
            x = area.left() + area.width() * min(p.turnout, 1.0)
            y = area.bottom() - area.height() * min(p.leader_share, 1.0)
            painter.drawEllipse(QPointF(x, y), 2.2, 2.2)


class ForensicsWindow(QWidget):
    """Both pictures for one source of figures, with PNG export."""

    def __init__(self, storage: Worker, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.storage = storage
        self.data: Forensics | None = None
        self.source = QComboBox()
        for src in SOURCES:
            self.source.addItem("", src)
        self.source.setCurrentIndex(SOURCES.index("official"))
        self.source.currentIndexChanged.connect(lambda _i: self.load())
        self.source_label = QLabel()
        self.summary = QLabel()
        self.histogram = TurnoutHistogram()
        self.scatter = TurnoutScatter()
        self.save_histogram = QPushButton()
        self.save_histogram.clicked.connect(lambda: self.export(self.histogram))
        self.save_scatter = QPushButton()
        self.save_scatter.clicked.connect(lambda: self.export(self.scatter))
        top = QHBoxLayout()
        top.addWidget(self.source_label)
        top.addWidget(self.source)
        top.addWidget(self.summary, 1)
        top.addWidget(self.save_histogram)
        top.addWidget(self.save_scatter)
        charts = QHBoxLayout()
        charts.addWidget(self.histogram)
        charts.addWidget(self.scatter)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(charts, 1)
        self.resize(1100, 520)
        self.retranslate()
        self.load()

    def load(self) -> None:
        source = str(self.source.currentData())
        self.storage.submit(lambda ctx: station_points(ctx.store, source), self.show_data,
                            lambda exc: errors.report(exc, self))

    def show_data(self, data: Forensics) -> None:
        self.data = data
        self.histogram.set_data(data)
        self.scatter.set_data(data)
        self.retranslate()

    def export(self, chart: Chart) -> None:
        path = dialogs.choose_save_file(self, self.tr("Save picture"), self.tr("PNG (*.png)"))
        if path is None:
            return
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        if not chart.save_png(path):
            dialogs.tell(self, dialogs.Kind.ERROR, self.tr("Save picture"),
                         self.tr("Could not write {file}").format(file=str(path)))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Election forensics"))
        self.source_label.setText(self.tr("Figures from"))
        names = {"observer": self.tr("Observer's copy"), "posted": self.tr("Posted copy"),
                 "official": self.tr("Official result")}
        for i in range(self.source.count()):
            self.source.setItemText(i, names[str(self.source.itemData(i))])
        self.save_histogram.setText(self.tr("Save histogram as PNG…"))
        self.save_scatter.setText(self.tr("Save scatter as PNG…"))
        self.histogram.title = self.tr("Stations by turnout")
        self.histogram.x_label = self.tr("Turnout (ballots issued / voters on the list)")
        self.histogram.y_label = self.tr("Stations")
        self.scatter.title = self.tr("Turnout and the leader's share")
        self.scatter.x_label = self.histogram.x_label
        leader = self.data.leader if self.data else ""
        self.scatter.y_label = self.tr("Share of {leader}").format(leader=leader)
        if self.data is not None:
            self.summary.setText(self.tr("{count} stations; {skipped} without the figures "
                                         "needed").format(count=len(self.data.points),
                                                          skipped=self.data.skipped))
        self.histogram.update()
        self.scatter.update()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


