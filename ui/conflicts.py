"""Review of sync conflicts: the same field changed on two laptops (or a record deleted on one
while edited on another). Both versions side by side, the one shown until someone decides
marked; the decision (mine, theirs, or a value typed here) syncs like any change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import taxonomy
from app.errors import KuaError
from app.sync.conflicts import ConflictView, list_conflicts, resolve_conflict
from storage.revisions import WHOLE_RECORD
from storage.timeutil import from_utc_text
from ui import errors
from ui.i18n import Language
from ui.worker import JobContext, Worker

TERMS = {"category": taxonomy.categories, "severity": taxonomy.severities,
         "status": taxonomy.statuses}


@dataclass(frozen=True)
class ConflictItem:
    """A conflict and what names its record for a person (an incident's number and station)."""

    view: ConflictView
    num: int | None = None
    station_code: str | None = None


def _load(ctx: JobContext) -> list[ConflictItem]:
    from app.incidents import get_incident

    items = []
    for view in list_conflicts(ctx.store):
        if view.entity == "incident":
            try:
                inc = get_incident(ctx.store, view.record_id, allow_deleted=True)
            except KuaError:
                items.append(ConflictItem(view))
                continue
            items.append(ConflictItem(view, inc.num, inc.station_code))
        else:
            items.append(ConflictItem(view))
    return items


def ordered_candidates(view: ConflictView) -> list[dict[str, Any]]:
    """This laptop's version first, then the others, latest first."""
    mine = [c for c in view.candidates if c["mine"]]
    others = sorted((c for c in view.candidates if not c["mine"]),
                    key=lambda c: (c["hlc"], c["rev"]), reverse=True)
    return mine[-1:] + others


def typed_text(value: Any) -> str:
    """A value as it is typed to decide a conflict with it (what parse_value reads back)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class ConflictDialog(QDialog):
    """Tools > Review conflicts: the open conflicts, and for the chosen one both versions."""

    resolved = Signal()  # a decision was stored: the records it touched changed

    def __init__(self, storage: Worker, language: Language, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.storage = storage
        self.language = language
        self.items: list[ConflictItem] = []
        self._busy = False

        self.list = QListWidget()
        self.list.setMinimumWidth(260)
        self.list.setWordWrap(True)  # a long title wraps rather than scrolling sideways
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(2)
        self.list.currentRowChanged.connect(self._show)
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        bold = QFont(self.heading.font())
        bold.setBold(True)
        self.heading.setFont(bold)
        self.what = QLabel()
        self.what.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.winner_note = QLabel()
        self.winner_note.setWordWrap(True)
        self.keep_mine = QPushButton()
        self.keep_mine.clicked.connect(lambda: self.resolve("mine"))
        self.take_theirs = QPushButton()
        self.take_theirs.clicked.connect(lambda: self.resolve("theirs"))
        self.own_label = QLabel()
        self.own_value = QLineEdit()
        self.use_own = QPushButton()
        self.use_own.clicked.connect(self.resolve_with_own_value)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)

        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_mine)
        buttons.addWidget(self.take_theirs)
        buttons.addStretch(1)
        own = QHBoxLayout()
        own.addWidget(self.own_value, 1)
        own.addWidget(self.use_own)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.heading)
        right_layout.addWidget(self.what)
        right_layout.addWidget(self.table, 1)
        right_layout.addWidget(self.winner_note)
        right_layout.addLayout(buttons)
        right_layout.addWidget(self.own_label)
        right_layout.addLayout(own)
        right_layout.addWidget(self.message)
        self.detail = right
        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.list)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([280, 620])
        bottom = QHBoxLayout()
        bottom.addWidget(self.empty, 1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.resize(920, 440)
        self.retranslate()
        self._show(-1)

    # --- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        self.storage.submit(_load, self._loaded)

    def _loaded(self, items: list[ConflictItem]) -> None:
        current = self.current()
        keep = current.view.id if current is not None else None
        self.items = items
        self.list.blockSignals(True)
        self.list.clear()
        for item in items:
            QListWidgetItem(self._title(item), self.list)
        row = next((r for r, i in enumerate(items) if i.view.id == keep), 0 if items else -1)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)  # after: the row is shown once, here, changed or not
        self._show(row)
        self.empty.setText("" if items else self.tr(
            "No open conflicts: every change from the team fitted together."))

    def current(self) -> ConflictItem | None:
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    # --- words -----------------------------------------------------------------------------

    def _record(self, item: ConflictItem) -> str:
        if item.num is not None:
            return self.tr("Incident No. {num}, station {code}").format(
                num=item.num, code=item.station_code)
        names = {"station": self.tr("Station"), "election": self.tr("Election"),
                 "protocol": self.tr("Protocol"), "evidence": self.tr("Evidence"),
                 "incident": self.tr("Incident")}
        return f"{names.get(item.view.entity, item.view.entity)} {item.view.record_id[:8]}"

    def _field_name(self, field: str) -> str:
        names = {
            "station_id": self.tr("Station"), "observed_at": self.tr("Time"),
            "observed_tz": self.tr("Time zone"), "category": self.tr("Category"),
            "severity": self.tr("Severity"), "status": self.tr("Status"),
            "description": self.tr("Description"), "witnesses": self.tr("Witnesses"),
            "reporter": self.tr("Reporter"), "legal_refs": self.tr("Legal references"),
            "deleted": self.tr("Deleted"), "lines": self.tr("Figures"),
        }
        return names.get(field, field)

    def _title(self, item: ConflictItem) -> str:
        view = item.view
        if view.field == "deleted":
            what = self.tr("deleted on one laptop, changed on another")
        elif view.field == WHOLE_RECORD:
            what = self.tr("entered differently on two laptops")
        else:
            what = self.tr("{field} changed on two laptops").format(
                field=self._field_name(view.field))
        return f"{self._record(item)}: {what}"

    def _value(self, field: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if field == "deleted":
            return self.tr("deleted") if value else self.tr("kept")
        if field in TERMS and isinstance(value, str):
            term = next((t for t in TERMS[field]() if t.key == value), None)
            return term.label(self.language.current) if term is not None else value
        if field == "observed_at" and isinstance(value, str):
            try:
                return from_utc_text(value).strftime("%d.%m.%Y %H:%M UTC")
            except ValueError:
                return value
        if isinstance(value, list):
            return "; ".join(str(v) for v in value)
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)

    def _who(self, candidate: dict[str, Any]) -> str:
        if candidate["mine"]:
            return self.tr("This laptop")
        return self.tr("Laptop {device}").format(device=candidate["device"][:8])

    # --- the chosen conflict ---------------------------------------------------------------

    def _show(self, row: int) -> None:
        item = self.items[row] if 0 <= row < len(self.items) else None
        self.detail.setEnabled(item is not None and not self._busy)
        self.message.clear()
        if item is None:
            self.heading.clear()
            self.what.clear()
            self.winner_note.clear()
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.own_value.clear()
            return
        view = item.view
        self.heading.setText(self._record(item))
        self.what.setText(self._title(item).split(": ", 1)[-1])
        candidates = ordered_candidates(view)
        if view.field == WHOLE_RECORD:
            fields = sorted({k for c in candidates if isinstance(c["value"], dict)
                             for k in c["value"]})
            differ = [f for f in fields
                      if len({json.dumps((c["value"] or {}).get(f), sort_keys=True)
                              for c in candidates}) > 1]
            fields = differ or fields
            cells = [[(c["value"] or {}).get(f) for c in candidates] for f in fields]
        else:
            fields = [view.field]
            cells = [[c["value"] for c in candidates]]
        self.table.clear()
        self.table.setColumnCount(len(candidates))
        self.table.setRowCount(len(fields) + 2)
        bold = QFont(self.table.font())
        bold.setBold(True)
        for col, c in enumerate(candidates):
            title = self._who(c)
            if c["rev"] == view.winner_rev:
                title = "★ " + title
            header = QTableWidgetItem(title)
            if c["rev"] == view.winner_rev:
                header.setFont(bold)
                header.setToolTip(self.tr("Shown on every laptop until someone decides"))
            self.table.setHorizontalHeaderItem(col, header)
        labels = [self._field_name(f) for f in fields] + [self.tr("Changed by"),
                                                          self.tr("When")]
        self.table.setVerticalHeaderLabels(labels)
        for r, field in enumerate(fields):
            for col, value in enumerate(cells[r]):
                cell = QTableWidgetItem(self._value(field, value))
                cell.setToolTip(cell.text())
                if candidates[col]["rev"] == view.winner_rev:
                    cell.setFont(bold)
                self.table.setItem(r, col, cell)
        for col, c in enumerate(candidates):
            device = c["device"]
            self.table.setItem(len(fields), col, QTableWidgetItem(
                self.tr("this laptop") if c["mine"] else
                self.tr("device {device}").format(device=device[:8])))
            self.table.setItem(len(fields) + 1, col, QTableWidgetItem(self._when(c["at"])))
        self.winner_note.setText(self.tr(
            "★ marks the version every laptop shows until someone decides."))
        self.keep_mine.setEnabled(any(c["mine"] for c in candidates))
        self.take_theirs.setEnabled(any(not c["mine"] for c in candidates))
        editable = view.field not in (WHOLE_RECORD, "deleted")
        self.own_label.setVisible(editable)
        self.own_value.setVisible(editable)
        self.use_own.setVisible(editable)
        winner = next((c for c in candidates if c["rev"] == view.winner_rev), candidates[0])
        self.own_value.setText(typed_text(winner["value"]) if editable else "")
        self.own_value.setCursorPosition(0)

    @staticmethod
    def _when(at: str) -> str:
        try:
            return from_utc_text(at).astimezone().strftime("%d.%m.%Y %H:%M")
        except ValueError:
            return at

    # --- deciding --------------------------------------------------------------------------

    def resolve(self, take: str | dict[str, str]) -> None:
        item = self.current()
        if item is None or self._busy:
            return
        self._busy = True
        self.detail.setEnabled(False)
        conflict_id = item.view.id
        self.storage.submit(lambda ctx: resolve_conflict(ctx.store, conflict_id, take),
                            self._resolved, self._failed)

    def resolve_with_own_value(self) -> None:
        item = self.current()
        if item is None:
            return
        self.resolve({item.view.field: self.own_value.text()})

    def _resolved(self, _rev: str) -> None:
        self._busy = False
        self.resolved.emit()
        self.reload()  # the one reload: the sync panel refreshes only the main window

    def _failed(self, exc: BaseException) -> None:
        self._busy = False
        self.detail.setEnabled(True)
        if isinstance(exc, KuaError):
            self.message.setText(errors.translate_known(str(exc)) or str(exc))
        else:
            errors.report(exc, self)

    # --- language --------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Sync conflicts"))
        self.keep_mine.setText(self.tr("Keep mine"))
        self.take_theirs.setText(self.tr("Take theirs"))
        self.own_label.setText(self.tr("Or enter the value that should stand:"))
        self.use_own.setText(self.tr("Use this value"))
        self.close_button.setText(self.tr("Close"))
        for row, item in enumerate(self.items):
            self.list.item(row).setText(self._title(item))
        self._show(self.list.currentRow())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
