"""The election forensics pictures: the turnout histogram and turnout against the leader's
share, one dot per station, drawn with QPainter (no chart library) and saved as PNG."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QTransform,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.forensics import Forensics, StationPoint, station_points
from app.protocols import SOURCES
from ui import dialogs, errors
from ui.protocols import add_sources, name_sources
from ui.worker import Worker

BINS = 50  # turnout in 2% steps
MARGIN = 44.0
LEGEND_H = 20.0  # the legend's row, between the title and the plot
PNG_SIZE = (1200, 800)
HIT_RADIUS = 6.0  # px: a click or hover this close to a dot is on its station
# Marks: every station, a station whose protocol fails a control relation, one with incidents.
STATION_COLOR = QColor(21, 101, 192, 95)
FAILED_COLOR = QColor("#ef6c00")
INCIDENT_COLOR = QColor("#b71c1c")
BAR_COLOR = QColor("#90caf9")
MARKED_BAR_COLOR = QColor("#e65100")


class Chart(QWidget):
    """Base for the two pictures: axes from 0 to 100%, a title, drawn into any rectangle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: Forensics | None = None
        self.title = ""
        self.x_label = ""
        self.y_label = ""
        self.legend: list[tuple[str, str]] = []  # (mark, text): see draw_mark
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
        return rect.adjusted(MARGIN + 10, MARGIN + LEGEND_H, -MARGIN / 2, -MARGIN)

    def draw_mark(self, painter: QPainter, mark: str, at: QPointF) -> None:
        """One legend swatch (the same marks draw_data uses)."""
        painter.save()
        if mark in ("bar", "marked_bar"):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(BAR_COLOR if mark == "bar" else MARKED_BAR_COLOR)
            painter.drawRect(QRectF(at.x() - 5, at.y() - 5, 10, 10))
        else:
            draw_point(painter, mark, at)
        painter.restore()

    def draw_legend(self, painter: QPainter, area: QRectF) -> None:
        metrics = painter.fontMetrics()
        x = area.left()
        y = area.top() - LEGEND_H / 2 - 4
        for mark, label in self.legend:
            self.draw_mark(painter, mark, QPointF(x + 6, y))
            painter.setPen(QColor("#424242"))
            width = metrics.horizontalAdvance(label) + 4
            painter.drawText(QRectF(x + 16, y - 9, width, 18),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            x += 16 + width + 18

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
        self.draw_legend(painter, area)
        self.draw_data(painter, area, self.data)

    def empty_text(self) -> str:
        return self.tr("No station has the figures yet")

    def draw_data(self, painter: QPainter, area: QRectF, data: Forensics) -> None:
        raise NotImplementedError


def draw_point(painter: QPainter, mark: str, at: QPointF) -> None:
    """A station on the scatter: a dot; a larger orange dot when its protocol fails a control
    relation; a dark red ring around it when incidents were logged there."""
    if mark == "station":
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(STATION_COLOR)
        painter.drawEllipse(at, 2.4, 2.4)
    elif mark == "failed":
        painter.setPen(QPen(QColor("white"), 0.8))
        painter.setBrush(FAILED_COLOR)
        painter.drawEllipse(at, 3.6, 3.6)
    elif mark == "incident":
        painter.setPen(QPen(INCIDENT_COLOR, 1.8))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(at, 6.0, 6.0)


class TurnoutHistogram(Chart):
    def counts(self, marked_only: bool = False) -> list[int]:
        """Stations per 2% of turnout (marked_only: those with an incident or a failed check)."""
        counts = [0] * BINS
        for p in self.data.points if self.data else ():
            if p.marked or not marked_only:
                counts[min(int(p.turnout * BINS), BINS - 1)] += 1
        return counts

    def draw_data(self, painter: QPainter, area: QRectF, data: Forensics) -> None:
        counts, marked = self.counts(), self.counts(marked_only=True)
        top = max(counts) or 1
        width = area.width() / BINS
        painter.setPen(Qt.PenStyle.NoPen)
        for color, values in ((BAR_COLOR, counts), (MARKED_BAR_COLOR, marked)):
            painter.setBrush(color)  # the marked stations as the lower part of each bar
            for i, n in enumerate(values):
                h = area.height() * n / top
                painter.drawRect(
                    QRectF(area.left() + i * width + 1, area.bottom() - h, width - 2, h)
                )
        painter.setPen(QColor("#424242"))
        step = next(n for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 10**9) if top / n <= 6)
        for n in [*range(0, top, step), top]:  # round steps, and the tallest bar's count
            if n != top and top - n < step / 2:
                continue  # too close to the top's label
            y = area.bottom() - area.height() * n / top
            painter.drawLine(QPointF(area.left() - 4, y), QPointF(area.left(), y))
            painter.drawText(QRectF(area.left() - MARGIN, y - 8, MARGIN - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(n))


class TurnoutScatter(Chart):
    """One dot per station; clicking a dot emits station_clicked with its code, hovering
    names the station and its figures."""

    station_clicked = Signal(str)

    @staticmethod
    def position(area: QRectF, p: StationPoint) -> QPointF:
        """Where a station's dot is drawn in a plot area."""
        return QPointF(area.left() + area.width() * min(p.turnout, 1.0),
                       area.bottom() - area.height() * min(p.leader_share, 1.0))

    def widget_position(self, p: StationPoint) -> QPointF:
        """Where the station's dot is on the widget at its current size."""
        return self.position(self.plot_area(QRectF(self.rect())), p)

    def point_at(self, pos: QPointF) -> StationPoint | None:
        """The station whose dot is nearest to pos (widget coordinates), within HIT_RADIUS."""
        if self.data is None:
            return None
        area = self.plot_area(QRectF(self.rect()))
        best, best_d2 = None, HIT_RADIUS * HIT_RADIUS
        for p in self.data.points:
            at = self.position(area, p)
            d2 = (at.x() - pos.x()) ** 2 + (at.y() - pos.y()) ** 2
            if d2 <= best_d2:
                best, best_d2 = p, d2
        return best

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        p = self.point_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and p is not None:
            self.station_clicked.emit(p.code)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            p = self.point_at(QPointF(event.pos()))
            if p is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self.tooltip(p), self)
            return True
        return super().event(event)

    def tooltip(self, p: StationPoint) -> str:
        text = self.tr("Station {code}: turnout {turnout}, {leader} {share}").format(
            code=p.code, turnout=f"{p.turnout:.1%}",
            leader=self.data.leader if self.data else "", share=f"{p.leader_share:.1%}")
        if p.failed:
            text += "\n" + self.tr("Fails: {relations}").format(relations=", ".join(p.failed))
        if p.incidents:
            text += "\n" + self.tr("Incidents: {count}").format(count=p.incidents)
        return text + "\n" + self.tr("Click to open the station")

    def draw_data(self, painter: QPainter, area: QRectF, data: Forensics) -> None:
        for pct in range(0, 101, 20):
            y = area.bottom() - area.height() * pct / 100
            painter.drawText(QRectF(area.left() - MARGIN, y - 8, MARGIN - 4, 16),
                             Qt.AlignmentFlag.AlignRight, f"{pct}%")

        def at(p: StationPoint) -> QPointF:
            return self.position(area, p)

        # Marked stations are drawn last, so no ordinary dot hides them.
        for p in data.points:
            draw_point(painter, "station", at(p))
        for p in data.points:
            if p.failed:
                draw_point(painter, "failed", at(p))
        for p in data.points:
            if p.incidents:
                draw_point(painter, "incident", at(p))


class ForensicsWindow(QWidget):
    """Both pictures for one source of figures, with PNG export. A click on a station's dot
    emits station_chosen(code, source): the main window selects the station and shows its
    protocol from that source with its checks."""

    station_chosen = Signal(str, str)

    def __init__(self, storage: Worker, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.storage = storage
        self.data: Forensics | None = None
        self.source = QComboBox()
        add_sources(self.source, SOURCES)
        self.source.setCurrentIndex(SOURCES.index("official"))
        self.source.currentIndexChanged.connect(lambda _i: self.load())
        self.source_label = QLabel()
        self.summary = QLabel()
        self.histogram = TurnoutHistogram()
        self.scatter = TurnoutScatter()
        self.scatter.station_clicked.connect(
            lambda code: self.station_chosen.emit(code, str(self.source.currentData())))
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
        name_sources(self.source)
        self.save_histogram.setText(self.tr("Save histogram as PNG…"))
        self.save_scatter.setText(self.tr("Save scatter as PNG…"))
        self.histogram.title = self.tr("Stations by turnout")
        self.histogram.x_label = self.tr("Turnout (ballots issued / voters on the list)")
        self.histogram.y_label = self.tr("Stations")
        self.scatter.title = self.tr("Turnout and the leader's share")
        self.scatter.x_label = self.histogram.x_label
        leader = self.data.leader if self.data else ""
        self.scatter.y_label = self.tr("Share of {leader}").format(leader=leader)
        self.histogram.legend = [
            ("bar", self.tr("Other stations")),
            ("marked_bar", self.tr("With an incident or a failed control relation")),
        ]
        self.scatter.legend = [
            ("station", self.tr("Station")),
            ("failed", self.tr("Protocol fails a control relation")),
            ("incident", self.tr("Incident logged")),
        ]
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


