"""The search box and filters above the incident list, and the dialog for a time period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from PySide6.QtCore import QDateTime, QEvent, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app import taxonomy
from app.incidents import IncidentFilter

SEARCH_DELAY_MS = 200  # as-you-type, but not one query per key press

PERIOD = "period"  # the time range entry that asks for an arbitrary from/to
# Time ranges offered, in hours back from now (None: any time), then "Period…".
TIME_RANGES: tuple[int | str | None, ...] = (None, 1, 3, 12, 24, PERIOD)

DATE_TIME_FORMAT = "dd.MM.yyyy HH:mm"

Period = tuple[datetime, datetime]  # aware, local time; both ends included


def local(naive: datetime) -> datetime:
    """A wall-clock time on this computer as an aware datetime."""
    return naive.astimezone()


def _qt(value: datetime) -> QDateTime:
    """An aware datetime as this computer's wall-clock time, for a QDateTimeEdit."""
    return QDateTime(value.astimezone().replace(tzinfo=None, second=0, microsecond=0))


def day_period(day: date) -> Period:
    """A whole day, 00:00 to 23:59, in local time."""
    return (local(datetime.combine(day, time(0, 0))),
            local(datetime.combine(day, time(23, 59))))


def short(value: datetime) -> str:
    return value.astimezone().strftime("%d.%m %H:%M")


class PeriodDialog(QDialog):
    """From and to, to the minute, by keyboard: Alt+F / Alt+T, digits, Enter."""

    def __init__(self, since: datetime, until: datetime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.since = QDateTimeEdit(_qt(since))
        self.until = QDateTimeEdit(_qt(until))
        for edit in (self.since, self.until):
            edit.setDisplayFormat(DATE_TIME_FORMAT)
            edit.setCalendarPopup(True)
            edit.dateTimeChanged.connect(self._check)
        self.since_label = QLabel()
        self.since_label.setBuddy(self.since)
        self.until_label = QLabel()
        self.until_label.setBuddy(self.until)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow(self.since_label, self.since)
        form.addRow(self.until_label, self.until)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.retranslate()
        self._check()
        self.since.setFocus()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Period"))
        self.since_label.setText(self.tr("&From"))
        self.until_label.setText(self.tr("&To"))
        self._check()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def period(self) -> Period:
        """The chosen period; the end minute is included whole."""
        since = self.since.dateTime().toPython()
        until = self.until.dateTime().toPython()
        assert isinstance(since, datetime) and isinstance(until, datetime)
        return (local(since.replace(second=0, microsecond=0)),
                local(until.replace(second=59, microsecond=999_999)))

    def _check(self) -> None:
        wrong = self.until.dateTime() < self.since.dateTime()
        self.problem.setText(self.tr("The end of the period is before its start.")
                             if wrong else "")
        self.problem.setVisible(wrong)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not wrong)


def ask_period(parent: QWidget | None, since: datetime, until: datetime) -> Period | None:
    """Ask for a period (modal); None if cancelled. Tests replace this function."""
    dialog = PeriodDialog(since, until, parent)
    try:
        if dialog.exec() == QDialog.DialogCode.Accepted:
            return dialog.period()
        return None
    finally:
        dialog.deleteLater()


class FilterBar(QWidget):
    """Emits changed when the user changes a filter; typing is debounced."""

    changed = Signal()

    def __init__(self, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lang = lang
        self.period: Period | None = None  # set once the user chose one with "Period…"
        self._default_day: date | None = None  # the election day, offered as the first period
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
        for combo in self.combos:
            # Sized to the longest entry of the current language ("Любая серьёзность"), so
            # nothing is cut; the category, whose names are long, elides and has a tooltip.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.currentIndexChanged.connect(lambda _i, c=combo: self._update_tooltip(c))
        self.category.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.category.setMinimumContentsLength(16)
        for combo in (self.category, self.severity, self.status):
            combo.currentIndexChanged.connect(self.changed)
        self._time_index = 0  # the last time range in force, to go back to on cancel
        self.time_range.currentIndexChanged.connect(self._time_range_changed)
        self.time_range.activated.connect(self._time_range_activated)

        # Two rows: at 1366 px the list column cannot hold the search and four combos in one
        # without cutting their texts.
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search, 0, 0, 1, 2)
        layout.addWidget(self.time_range, 0, 2)
        layout.addWidget(self.category, 1, 0)
        layout.addWidget(self.severity, 1, 1)
        layout.addWidget(self.status, 1, 2)
        layout.setColumnStretch(0, 3)
        layout.setColumnStretch(1, 1)
        layout.setColumnStretch(2, 1)
        self.retranslate()

    @property
    def combos(self) -> tuple[QComboBox, ...]:
        return (self.category, self.severity, self.status, self.time_range)

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
                  12: self.tr("Last 12 hours"), 24: self.tr("Last 24 hours"),
                  PERIOD: self._period_label()}
        self._fill_plain(self.time_range, [(labels[h], h) for h in TIME_RANGES])
        for combo in self.combos:
            self._update_tooltip(combo)

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
        # The list opens as wide as its longest entry, even where the box itself is narrower.
        view = combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 8)

    def _update_tooltip(self, combo: QComboBox) -> None:
        if combo is self.time_range and self.period is not None \
                and combo.currentData() == PERIOD:
            since, until = self.period
            combo.setToolTip(self.tr("From {since} to {until}").format(
                since=since.astimezone().strftime("%d.%m.%Y %H:%M"),
                until=until.astimezone().strftime("%d.%m.%Y %H:%M")))
        else:
            combo.setToolTip(combo.currentText())

    # --- time range -------------------------------------------------------------------------

    def _period_label(self) -> str:
        if self.period is None:
            return self.tr("Period…")
        since, until = self.period
        return f"{short(since)} – {short(until)}"

    def set_election_day(self, day: str | date | None) -> None:
        """The day "Period…" proposes before the user has chosen one (YYYY-MM-DD)."""
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day)
            except ValueError:
                day = None
        self._default_day = day

    def _proposed_period(self) -> Period:
        if self.period is not None:
            return self.period
        if self._default_day is not None:
            return day_period(self._default_day)
        now = datetime.now().astimezone().replace(second=0, microsecond=0)
        return (now.replace(hour=0, minute=0), now)

    def _time_range_changed(self, index: int) -> None:
        if self.time_range.itemData(index) == PERIOD:
            return  # the dialog decides (activated); a set period is applied by set_period
        self._time_index = index
        self.changed.emit()

    def _time_range_activated(self, index: int) -> None:
        if self.time_range.itemData(index) != PERIOD:
            return
        chosen = ask_period(self, *self._proposed_period())
        if chosen is None:  # cancelled: the range in force stays
            self.time_range.blockSignals(True)
            self.time_range.setCurrentIndex(self._time_index)
            self.time_range.blockSignals(False)
            self._update_tooltip(self.time_range)
            return
        self.set_period(*chosen)

    def choose_period(self) -> None:
        """Pick "Period…" as the user would: the dialog asks, the filter follows."""
        index = self.time_range.findData(PERIOD)
        self.time_range.setCurrentIndex(index)
        self._time_range_activated(index)

    def set_period(self, since: datetime, until: datetime) -> None:
        """Filter to incidents observed from since to until (aware datetimes)."""
        self.period = (since, until)
        index = self.time_range.findData(PERIOD)
        self.time_range.blockSignals(True)
        self.time_range.setItemText(index, self._period_label())
        self.time_range.setCurrentIndex(index)
        self.time_range.blockSignals(False)
        self._time_index = index
        self._update_tooltip(self.time_range)
        self.changed.emit()

    # --- all filters ------------------------------------------------------------------------

    def clear(self) -> None:
        widgets = (self.search, *self.combos)
        for w in widgets:
            w.blockSignals(True)
        self.search.clear()
        for combo in self.combos:
            combo.setCurrentIndex(0)
        self._time_index = 0
        self.period = None
        self.time_range.setItemText(self.time_range.findData(PERIOD), self._period_label())
        for w in widgets:
            w.blockSignals(False)
        for combo in self.combos:
            self._update_tooltip(combo)
        self.apply_now()

    def incident_filter(self, station_codes: Sequence[str] = ()) -> IncidentFilter:
        def keys(combo: QComboBox) -> tuple[str, ...]:
            key = combo.currentData()
            return () if key is None else (key,)

        since = until = None
        chosen = self.time_range.currentData()
        if chosen == PERIOD:
            if self.period is not None:
                since, until = self.period
        elif chosen is not None:
            since = datetime.now().astimezone() - timedelta(hours=int(chosen))
        return IncidentFilter(
            search=self.search.text(),
            station_codes=tuple(station_codes),
            categories=keys(self.category),
            statuses=keys(self.status),
            severities=keys(self.severity),
            since=since,
            until=until,
        )
