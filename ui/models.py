"""Qt item models over plain data from app/: incidents (lazy, paged), stations, evidence."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QCoreApplication,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from app import taxonomy
from app.elections import StationView
from app.incidents import EvidenceView, IncidentView

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the default parent of a flat model's rows
FetchPage = Callable[[list[int], Callable[[list[IncidentView]], None]], None]

NUM_ROLE = Qt.ItemDataRole.UserRole + 1  # the incident's local key (num)
CODE_ROLE = Qt.ItemDataRole.UserRole + 2  # a station's code


_tr = partial(QCoreApplication.translate, "models")


_pending_icons: dict[tuple[int, int], QIcon] = {}


def pending_icon(size: QSize) -> QIcon:
    """The tile of a photo still on its way from the team: a dashed frame and an hourglass
    (drawn, not a font glyph: every system has it)."""
    key = (size.width(), size.height())
    icon = _pending_icons.get(key)
    if icon is None:
        pixmap = QPixmap(size)
        pixmap.fill(QColor("#eef1f4"))
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor("#8a94a0"), 2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        w, h = size.width(), size.height()
        p.drawRoundedRect(2, 2, w - 4, h - 4, 8, 8)
        pen.setStyle(Qt.PenStyle.SolidLine)
        p.setPen(pen)
        cx, top, bottom, half = w // 2, h // 2 - 20, h // 2 + 20, 14
        p.drawLine(cx - half, top, cx + half, top)
        p.drawLine(cx - half, bottom, cx + half, bottom)
        p.drawLine(cx - half + 3, top, cx + half - 3, bottom)
        p.drawLine(cx + half - 3, top, cx - half + 3, bottom)
        p.setBrush(QColor("#8a94a0"))
        p.drawEllipse(cx - 4, bottom - 9, 8, 6)
        p.end()
        icon = _pending_icons[key] = QIcon(pixmap)
    return icon


def first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


class IncidentTableModel(QAbstractTableModel):
    """All matching incidents of the store, fetched a page at a time as the view shows them.

    The model holds only the keys (set_nums, newest first: a 100k list of ints is ~1 MB); rows
    come from fetch_page on the storage worker and are kept in a bounded LRU cache, so memory
    stays flat however far the user scrolls. An unfetched row shows a placeholder until its
    page arrives (dataChanged then repaints it).
    """

    PAGE = 200
    MAX_PAGES = 40

    COLUMNS = ("num", "time", "station", "category", "severity", "status", "description",
               "reporter")

    def __init__(self, fetch_page: FetchPage, lang: str = "en", parent: Any = None) -> None:
        super().__init__(parent)
        self._fetch_page = fetch_page
        self._lang = lang
        self._nums: list[int] = []
        self._row_of: dict[int, int] | None = None  # built on demand: row_of_num is rare
        self._pages: OrderedDict[int, list[IncidentView]] = OrderedDict()
        self._requested: set[int] = set()
        self._generation = 0

    # --- feeding ---------------------------------------------------------------------------

    def set_nums(self, nums: Sequence[int]) -> None:
        """New result set (after a filter change or an edit): drops every cached page."""
        self.beginResetModel()
        self._nums = list(nums)
        self._row_of = None
        self._pages.clear()
        self._requested.clear()
        self._generation += 1
        self.endResetModel()

    def set_language(self, lang: str) -> None:
        self._lang = lang
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.COLUMNS) - 1)
        if self._nums:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._nums) - 1,
                                                               len(self.COLUMNS) - 1))

    def update_incident(self, view: IncidentView) -> None:
        """An incident changed: refresh its row if it is cached and shown."""
        row = self.row_of_num(view.num)
        if row is None:
            return
        page = self._pages.get(row // self.PAGE)
        if page is not None and row % self.PAGE < len(page):
            page[row % self.PAGE] = view
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def row_of_num(self, num: int) -> int | None:
        if self._row_of is None:
            self._row_of = {n: r for r, n in enumerate(self._nums)}
        return self._row_of.get(num)

    def num_at(self, row: int) -> int | None:
        return self._nums[row] if 0 <= row < len(self._nums) else None

    def nums_in(self, selection: QItemSelection) -> list[int]:
        """The incidents of a selection's rows, read from the keys (no row is fetched)."""
        nums: list[int] = []
        for i in range(selection.count()):
            part = selection.at(i)
            nums.extend(self._nums[part.top() : part.bottom() + 1])
        return nums

    def selection_of(self, nums: Iterable[int]) -> QItemSelection:
        """The whole rows of those of these incidents the list holds, a range per run of
        adjacent rows; found through the keys, so no row is fetched."""
        rows = sorted({row for num in nums if (row := self.row_of_num(num)) is not None})
        selection = QItemSelection()
        last = len(self.COLUMNS) - 1
        start = 0
        for i, row in enumerate(rows):
            if i + 1 == len(rows) or rows[i + 1] != row + 1:
                selection.select(self.index(rows[start], 0), self.index(row, last))
                start = i + 1
        return selection

    def incident_at(self, row: int) -> IncidentView | None:
        """The row's incident if its page is loaded (None while it is being fetched)."""
        if not 0 <= row < len(self._nums):
            return None
        page = self._pages.get(row // self.PAGE)
        if page is None or row % self.PAGE >= len(page):
            return None
        return page[row % self.PAGE]

    @property
    def loading(self) -> bool:
        return bool(self._requested)

    def _page(self, page_no: int) -> list[IncidentView] | None:
        page = self._pages.get(page_no)
        if page is not None:
            self._pages.move_to_end(page_no)
            return page
        if page_no not in self._requested:
            self._requested.add(page_no)
            start = page_no * self.PAGE
            nums = self._nums[start : start + self.PAGE]
            generation = self._generation
            self._fetch_page(nums, lambda rows: self._page_arrived(generation, page_no, rows))
        return None

    def _page_arrived(self, generation: int, page_no: int, rows: list[IncidentView]) -> None:
        if generation != self._generation:
            return  # a result for a list that has since been replaced
        self._requested.discard(page_no)
        start = page_no * self.PAGE
        expected = self._nums[start : start + self.PAGE]
        if [r.num for r in rows] != expected:
            # Some were deleted or changed meanwhile: keep rows aligned with keys.
            by_num = {r.num: r for r in rows}
            rows = [by_num[n] for n in expected if n in by_num]
            if len(rows) != len(expected):
                return  # leave the placeholders; the next refresh brings the new list
        self._pages[page_no] = rows
        while len(self._pages) > self.MAX_PAGES:
            self._pages.popitem(last=False)
        last = min(start + self.PAGE, len(self._nums)) - 1
        self.dataChanged.emit(self.index(start, 0), self.index(last, len(self.COLUMNS) - 1))

    # --- Qt model --------------------------------------------------------------------------

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._nums)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if not 0 <= section < len(self.COLUMNS):
            return None
        return (
            _tr("No."), _tr("Time"), _tr("Station"), _tr("Category"), _tr("Severity"),
            _tr("Status"), _tr("What happened"), _tr("Reporter"),
        )[section]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._nums):
            return None
        row, col = index.row(), index.column()
        if role == NUM_ROLE:
            return self._nums[row]
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                        Qt.ItemDataRole.ForegroundRole):
            return None
        page = self._page(row // self.PAGE)
        if page is None or row % self.PAGE >= len(page):
            if role == Qt.ItemDataRole.DisplayRole and col == 0:
                return "…"
            return None
        inc = page[row % self.PAGE]
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(Qt.GlobalColor.darkRed) if inc.severity == "critical" else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(inc, self.COLUMNS[col])
        return self._display(inc, self.COLUMNS[col])

    def _tooltip(self, inc: IncidentView, column: str) -> str | None:
        """The whole text where the column may cut it."""
        if column == "description":
            return inc.description
        if column == "station":
            return f"{inc.station_code} — {inc.station_name}"
        if column in ("category", "severity", "status"):
            return self._display(inc, column)
        return None

    def _display(self, inc: IncidentView, column: str) -> str:
        if column == "num":
            return str(inc.num)
        if column == "time":
            return inc.observed_at.strftime("%d.%m %H:%M")
        if column == "station":
            return inc.station_code
        if column in ("category", "severity", "status"):
            return taxonomy.label(column, getattr(inc, column), self._lang)  # type: ignore[arg-type]
        if column == "description":
            return first_line(inc.description)
        return inc.reporter or ""


class StationListModel(QAbstractTableModel):
    """Stations of the current election with their incident counts; row 0 is "all stations"."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._stations: list[StationView] = []

    def set_stations(self, stations: Sequence[StationView]) -> None:
        self.beginResetModel()
        self._stations = list(stations)
        self.endResetModel()

    @property
    def stations(self) -> list[StationView]:
        return list(self._stations)

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._stations) + 1

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else 2

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        return {0: _tr("Station"), 1: _tr("Incidents")}.get(section)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() > len(self._stations):
            return None
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if row == 0:
            total = sum(s.incidents for s in self._stations)
            if role == Qt.ItemDataRole.DisplayRole:
                return _tr("All stations") if col == 0 else str(total)
            if role == Qt.ItemDataRole.ToolTipRole:
                return _tr("Incidents: {count}").format(count=total)
            return None
        st = self._stations[row - 1]
        if role == CODE_ROLE:
            return st.code
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{st.code}  {st.name}" if col == 0 else str(st.incidents)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{st.code} — {st.name}", st.address, st.commission or "",
                     _tr("Incidents: {count}").format(count=st.incidents)]
            return "\n".join(line for line in lines if line)
        return None


class EvidenceListModel(QAbstractListModel):
    """One incident's evidence as thumbnails; request_thumbnail loads one off the main thread
    and calls back with a pixmap-ready image (set_thumbnail)."""

    THUMB = QSize(96, 96)
    # Every item's size, given, not measured: measured before its thumbnail arrives, an item
    # would be sized without the picture and show it clipped (the view caches the size).
    ITEM = QSize(104, 120)

    def __init__(self, request_thumbnail: Callable[[str], None], parent: Any = None) -> None:
        super().__init__(parent)
        self._request = request_thumbnail
        self._items: list[EvidenceView] = []
        self._icons: dict[str, QIcon] = {}
        self._requested: set[str] = set()
        self._pending: set[str] = set()  # photos whose bytes have not arrived from the team

    def set_evidence(self, items: Sequence[EvidenceView]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self._requested -= self._pending  # asked again: a sync may have brought them
        self._pending.clear()
        self.endResetModel()

    def add_evidence(self, items: Sequence[EvidenceView]) -> None:
        known = {e.id for e in self._items}
        new = [e for e in items if e.id not in known]
        if not new:
            return
        start = len(self._items)
        self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
        self._items.extend(new)
        self.endInsertRows()

    def remove_evidence(self, evidence_id: str) -> int | None:
        """Take one item out; returns the row it had (None if it was not shown)."""
        row = next((r for r, e in enumerate(self._items) if e.id == evidence_id), None)
        if row is not None:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._items[row]
            self.endRemoveRows()
        return row

    def insert_evidence(self, item: EvidenceView, row: int) -> None:
        """Put one item back at row (at the end if the list is shorter by now)."""
        if any(e.id == item.id for e in self._items):
            return
        row = max(0, min(row, len(self._items)))
        self.beginInsertRows(QModelIndex(), row, row)
        self._items.insert(row, item)
        self.endInsertRows()

    def evidence_at(self, row: int) -> EvidenceView | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    @property
    def items(self) -> list[EvidenceView]:
        return list(self._items)

    def set_thumbnail(self, sha256: str, pixmap: QPixmap) -> None:
        self._icons[sha256] = QIcon(pixmap)
        for row, e in enumerate(self._items):
            if e.sha256 == sha256:
                idx = self.index(row, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def set_pending(self, sha256: str) -> None:
        """The photo's bytes are still on their way from the team: show a placeholder tile."""
        self._pending.add(sha256)
        for row, e in enumerate(self._items):
            if e.sha256 == sha256:
                idx = self.index(row, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole,
                                                 Qt.ItemDataRole.DisplayRole,
                                                 Qt.ItemDataRole.ToolTipRole])

    def is_pending(self, sha256: str) -> bool:
        return sha256 in self._pending

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._items):
            return None
        e = self._items[index.row()]
        pending = e.sha256 in self._pending
        if role == Qt.ItemDataRole.DisplayRole:
            return _tr("Evidence pending") \
                if pending else e.original_name
        if role == Qt.ItemDataRole.ToolTipRole:
            text = f"{e.original_name}\nSHA-256: {e.sha256}"
            if pending:
                text = _tr("Evidence pending: this photo has not arrived from the team "
                           "server yet.") + "\n" + text
            return text
        if role == Qt.ItemDataRole.SizeHintRole:
            return self.ITEM
        if role == Qt.ItemDataRole.DecorationRole:
            if pending:
                return pending_icon(self.THUMB)
            icon = self._icons.get(e.sha256)
            if icon is None and e.sha256 not in self._requested:
                self._requested.add(e.sha256)
                self._request(e.sha256)
            return icon
        return None
