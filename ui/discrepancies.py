"""Tools > Discrepancies: the stations whose observer's (or posted) copy of the protocol differs
from the official result, largest difference first, sortable by any column; the chosen row's
comparison line by line; and an incident "protocol falsified or corrected" made from it
(app.discrepancies.incident_from_discrepancy, on the storage worker)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.discrepancies import COPIES, Discrepancy, find_discrepancies, incident_from_discrepancy
from app.incidents import IncidentView
from app.protocols import current_profile
from ui import dialogs, errors
from ui.i18n import Language
from ui.protocols import add_sources, name_sources
from ui.worker import JobContext, Worker

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # numbers sort as numbers
STATION_ROLE = Qt.ItemDataRole.UserRole + 2  # the row's station code
Index = QModelIndex | QPersistentModelIndex
DIFF_COLOR = QColor("#b71c1c")


class DiscrepancyModel(QAbstractTableModel):
    """One row per finding: station, differing lines, the largest difference, the lines."""

    COLUMNS = ("station", "count", "size", "lines")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[Discrepancy] = []

    def line_names(self, d: Discrepancy) -> str:
        """The differing lines, short: "line 2", or a candidate's name."""
        return ", ".join(x.line if x.is_candidate else self.tr("line {line}").format(line=x.line)
                         for x in d.differences)

    def set_rows(self, rows: list[Discrepancy]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        d = self.rows[index.row()]
        column = self.COLUMNS[index.column()]
        if role == STATION_ROLE:
            return d.station_code
        if role == SORT_ROLE:
            return {"station": d.station_code, "count": len(d.differences), "size": d.size,
                    "lines": self.line_names(d)}[column]
        if role == Qt.ItemDataRole.DisplayRole:
            if column == "station":
                if d.station_name and d.station_name != d.station_code:
                    return f"{d.station_code}  {d.station_name}"
                return d.station_code
            if column == "count":
                return str(len(d.differences))
            if column == "size":
                return str(d.size)
            return self.line_names(d)
        if role == Qt.ItemDataRole.ToolTipRole and column in ("station", "lines"):
            return self.data(index)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("count", "size"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole
                or not 0 <= section < len(self.COLUMNS)):
            return None
        return {"station": self.tr("Station"), "count": self.tr("Lines differing"),
                "size": self.tr("Largest difference"),
                "lines": self.tr("Lines")}[self.COLUMNS[section]]


class DiscrepanciesWindow(QWidget):
    incident_created = Signal(object)  # the IncidentView made from a finding
    station_chosen = Signal(str)  # a row was chosen: its station

    def __init__(self, storage: Worker, language: Language,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.storage = storage
        self.language = language  # .current: the language of the labels and new incidents
        self.loaded = False  # the latest query's rows are shown
        self.labels: dict[str, str] = {}  # line id -> its label in the profile
        self.source = QComboBox()
        add_sources(self.source, COPIES)
        self.source.currentIndexChanged.connect(lambda _i: self.load())
        self.source_label = QLabel()
        self.summary = QLabel()

        self.model = DiscrepancyModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(DiscrepancyModel.COLUMNS.index("size"),
                                Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.resizeSection(0, 240)
        for column in ("count", "size"):
            header.setSectionResizeMode(DiscrepancyModel.COLUMNS.index(column),
                                        QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._row_changed())

        self.details_label = QLabel()
        self.details = QTableWidget(0, 4)
        self.details.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.details.verticalHeader().hide()
        self.details.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.create_button = QPushButton()
        self.create_button.clicked.connect(self.create_incident)
        self.create_button.setEnabled(False)
        # Enter on the list makes the incident from the chosen finding.
        self.create_action = QAction(self)
        self.create_action.setShortcuts([QKeySequence(Qt.Key.Key_Return),
                                         QKeySequence(Qt.Key.Key_Enter)])
        self.create_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.create_action.triggered.connect(self.create_incident)
        self.table.addAction(self.create_action)

        top = QHBoxLayout()
        top.addWidget(self.source_label)
        top.addWidget(self.source)
        top.addWidget(self.summary, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.details_label)
        lower_layout.addWidget(self.details, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)
        lower_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setSizes([300, 220])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self.resize(900, 600)
        self.retranslate()
        self.load()

    # --- data -------------------------------------------------------------------------------

    def current_source(self) -> str:
        return str(self.source.currentData())

    def load(self) -> None:
        source, lang = self.current_source(), self.language.current
        self.loaded = False

        def job(ctx: JobContext) -> tuple[list[Discrepancy], dict[str, str]]:
            labels = {line.id: line.label(lang) for line in current_profile(ctx.store).lines}
            return find_discrepancies(ctx.store, (source,)), labels

        self.storage.submit(job, self._arrived, lambda exc: errors.report(exc, self))

    def _arrived(self, found: tuple[list[Discrepancy], dict[str, str]]) -> None:
        rows, self.labels = found
        self.model.set_rows(rows)
        self.loaded = True
        self._show_summary()
        if self.proxy.rowCount():
            self.table.setCurrentIndex(self.proxy.index(0, 0))
        else:
            self.show_current()

    def current(self) -> Discrepancy | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        row = self.proxy.mapToSource(index).row()
        return self.model.rows[row] if 0 <= row < len(self.model.rows) else None

    def show_current(self) -> None:
        d = self.current()
        self.create_button.setEnabled(d is not None)
        self.details.setRowCount(0)
        if d is None:
            self.details_label.setText(self.tr("Choose a station above"))
            return
        self.details_label.setText(self.tr("Station {code}, line by line").format(
            code=d.station_code))
        self.details.setRowCount(len(d.differences))
        for r, x in enumerate(d.differences):
            name = x.line if x.is_candidate else self.labels.get(x.line, x.line)
            values = (name, str(x.copy), str(x.official), f"{x.difference:+d}")
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setToolTip(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if c == 3:
                    item.setForeground(QBrush(DIFF_COLOR))
                self.details.setItem(r, c, item)

    def _row_changed(self) -> None:
        self.show_current()
        d = self.current()
        if d is not None:
            self.station_chosen.emit(d.station_code)

    def create_incident(self) -> None:
        d = self.current()
        if d is None:
            return
        code, source, lang = d.station_code, d.source, self.language.current

        def job(ctx: JobContext) -> IncidentView:
            return incident_from_discrepancy(ctx.store, code, source, lang)

        self.create_button.setEnabled(False)
        self.storage.submit(job, self._created, lambda exc: (
            self.create_button.setEnabled(True), errors.report(exc, self)))

    def _created(self, view: IncidentView) -> None:
        self.create_button.setEnabled(True)
        dialogs.tell(self, dialogs.Kind.INFO, self.tr("Incident created"), self.tr(
            "Incident No. {num} at station {station} is created from the discrepancy, with the "
            "copy's protocol photos attached.").format(num=view.num, station=view.station_code))
        self.incident_created.emit(view)

    # --- language ---------------------------------------------------------------------------

    def _show_summary(self) -> None:
        if self.loaded:
            self.summary.setText(self.tr("{count} stations differ from the official result")
                                 .format(count=self.model.rowCount()))
        else:
            self.summary.setText("")

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Discrepancies with the official result"))
        self.source_label.setText(self.tr("Compare"))
        name_sources(self.source)
        self.details.setHorizontalHeaderLabels([
            self.tr("Line"), self.tr("In the copy"), self.tr("Official"), self.tr("Difference")])
        self.create_button.setText(self.tr("&Create incident"))
        self.create_button.setToolTip(self.tr("Enter in the list does the same"))
        self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0,
                                          len(DiscrepancyModel.COLUMNS) - 1)
        self._show_summary()
        self.show_current()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
