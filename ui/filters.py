"""The search box and filters above the incident list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QWidget

from app import taxonomy
from app.incidents import IncidentFilter

SEARCH_DELAY_MS = 200  # as-you-type, but not one query per key press

# Time ranges offered, in hours back from now (None: any time).
TIME_RANGES: tuple[int | None, ...] = (None, 1, 3, 12, 24)


class FilterBar(QWidget):
    """Emits changed when the user changes a filter; typing is debounced."""

    changed = Signal()

    def __init__(self, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lang = lang
        self.search = QLineEdit()
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(200)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.changed)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self.apply_now)

        self.category = QComboBox()
        self.severity = QComboBox()
        self.status = QComboBox()
        self.time_range = QComboBox()
        for combo in (self.category, self.severity, self.status, self.time_range):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.currentIndexChanged.connect(self.changed)
        self.category.setMinimumContentsLength(14)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search, 3)
        for combo in (self.category, self.severity, self.status, self.time_range):
            layout.addWidget(combo, 1)
        self.retranslate()

    def apply_now(self) -> None:
        self._debounce.stop()
        self.changed.emit()

    def set_language(self, lang: str) -> None:
        self._lang = lang
        self.retranslate()

    def retranslate(self) -> None:
        self.search.setPlaceholderText(self.tr("Search text, reporter, witnesses (Ctrl+F)"))
        self._fill(self.category, self.tr("All categories"), taxonomy.categories())
        self._fill(self.severity, self.tr("Any severity"), taxonomy.severities())
        self._fill(self.status, self.tr("Any status"), taxonomy.statuses())
        labels = {None: self.tr("Any time"), 1: self.tr("Last hour"), 3: self.tr("Last 3 hours"),
                  12: self.tr("Last 12 hours"), 24: self.tr("Last 24 hours")}
        self._fill_plain(self.time_range, [(labels[h], h) for h in TIME_RANGES])

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _fill(self, combo: QComboBox, everything: str, terms: Sequence[taxonomy.Term]) -> None:
        items = [(t.label(self._lang), t.key) for t in terms]
        self._fill_plain(combo, [(everything, None), *items])

    @staticmethod
    def _fill_plain(combo: QComboBox, items: Sequence[tuple[str, object]]) -> None:
        """Relabel without losing the selection or emitting a change."""
        chosen = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for text, data in items:
            combo.addItem(text, data)
        combo.setCurrentIndex(0 if chosen is None else max(0, combo.findData(chosen)))
        combo.blockSignals(False)

    def clear(self) -> None:
        for w in (self.search, self.category, self.severity, self.status, self.time_range):
            w.blockSignals(True)
        self.search.clear()
        for combo in (self.category, self.severity, self.status, self.time_range):
            combo.setCurrentIndex(0)
        for w in (self.search, self.category, self.severity, self.status, self.time_range):
            w.blockSignals(False)
        self.apply_now()

    def incident_filter(self, station_codes: Sequence[str] = ()) -> IncidentFilter:
        def keys(combo: QComboBox) -> tuple[str, ...]:
            key = combo.currentData()
            return () if key is None else (key,)

        hours = self.time_range.currentData()
        return IncidentFilter(
            search=self.search.text(),
            station_codes=tuple(station_codes),
            categories=keys(self.category),
            statuses=keys(self.status),
            severities=keys(self.severity),
            since=None if hours is None else datetime.now().astimezone() - timedelta(hours=hours),
        )
