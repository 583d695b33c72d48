"""The incident form: log a new report in seconds, keyboard only, or correct an existing one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QStringListModel, Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import taxonomy
from app.elections import StationView
from app.errors import InvalidInput
from app.incidents import IncidentDraft, IncidentView, add_incident, edit_incident, get_incident
from ui import errors
from ui.commands import AddIncident, EditIncident, editable_values
from ui.evidence import EvidencePanel
from ui.worker import Worker

STATION_SEPARATOR = " — "


def station_code_of(text: str) -> str:
    """The code from a completer entry ("75-001 — School 12") or from a typed code."""
    return text.split(STATION_SEPARATOR)[0].strip()


def local_now() -> datetime:
    return datetime.now().astimezone().replace(second=0, microsecond=0)


class IncidentEditor(QWidget):
    """Shows one incident (or a new draft). save() stores it through the worker and puts the
    change on the undo stack; saved is emitted with the stored incident."""

    saved = Signal(object)  # IncidentView
    busy_changed = Signal(bool)

    def __init__(self, storage: Worker, evidence: EvidencePanel, undo_stack: QUndoStack,
                 lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._storage = storage
        self._undo = undo_stack
        self._lang = lang
        self.current: IncidentView | None = None
        self._saving = False
        self.evidence = evidence
        evidence.needs_incident.connect(self._save_for_evidence)

        self.heading = QLabel()
        font = self.heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.heading.setFont(font)

        self.station = QLineEdit()
        self._station_names = QStringListModel(self)
        self._station_codes: set[str] = set()
        completer = QCompleter(self._station_names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        self.station.setCompleter(completer)

        self.observed_at = QDateTimeEdit()
        self.observed_at.setDisplayFormat("dd.MM.yyyy HH:mm")
        self.observed_at.setCalendarPopup(True)
        self._tz: tzinfo | None = None  # the loaded incident's own offset, kept on edit

        self.category = QComboBox()
        self.severity = QComboBox()
        self.status = QComboBox()
        for combo in (self.category, self.severity, self.status):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            # Long category names are cut in the box: the tooltip and the open list show all.
            combo.currentTextChanged.connect(combo.setToolTip)
        self._fill_terms()

        self.description = QPlainTextEdit()
        self.description.setTabChangesFocus(True)  # Tab leaves the field: keyboard-first
        self.description.setMinimumHeight(70)
        self.description.setMaximumHeight(130)
        self.witnesses = QLineEdit()
        self.reporter = QLineEdit()

        self.save_button = QPushButton()
        self.save_button.clicked.connect(self.save)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.cancel)

        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._labels = [QLabel() for _ in range(8)]
        for label, field in zip(
            self._labels,
            (self.station, self.observed_at, self.category, self.severity, self.status,
             self.description, self.witnesses, self.reporter),
            strict=True,
        ):
            label.setBuddy(field)
            self.form.addRow(label, field)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(self.form)
        layout.addLayout(buttons)
        layout.addWidget(evidence)
        layout.addStretch(1)
        for a, b in ((self.station, self.observed_at), (self.observed_at, self.category),
                     (self.category, self.severity), (self.severity, self.status),
                     (self.status, self.description), (self.description, self.witnesses),
                     (self.witnesses, self.reporter), (self.reporter, self.save_button)):
            QWidget.setTabOrder(a, b)
        self.retranslate()
        self.new_incident()

    # --- language -----------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        self._lang = lang
        self._fill_terms()

    def _fill_terms(self) -> None:
        for combo, terms in ((self.category, taxonomy.categories()),
                             (self.severity, taxonomy.severities()),
                             (self.status, taxonomy.statuses())):
            key = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for term in terms:
                combo.addItem(term.label(self._lang), term.key)
            self._select(combo, key)
            combo.blockSignals(False)
            combo.setToolTip(combo.currentText())
            view = combo.view()  # the open list as wide as its longest name
            view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 8)

    @staticmethod
    def _select(combo: QComboBox, key: str | None) -> None:
        if key is None:
            return
        row = combo.findData(key)
        if row < 0:  # a team's own term or one from a newer app: keep it selectable
            combo.addItem(key, key)
            row = combo.count() - 1
        combo.setCurrentIndex(row)

    def retranslate(self) -> None:
        for label, text in zip(self._labels, (
            self.tr("&Station"), self.tr("&Time"), self.tr("&Category"), self.tr("Se&verity"),
            self.tr("Stat&us"), self.tr("&What happened"), self.tr("W&itnesses"),
            self.tr("&Reporter"),
        ), strict=True):
            label.setText(text)
        self.station.setPlaceholderText(self.tr("Code or name, e.g. 75-001"))
        self.witnesses.setPlaceholderText(self.tr("Names, separated by semicolons"))
        self.reporter.setPlaceholderText(self.tr("Who reported it (observer)"))
        self.description.setPlaceholderText(self.tr("What happened, in the reporter's words"))
        self.save_button.setText(self.tr("Save (Ctrl+S)"))
        self.cancel_button.setText(self.tr("Cancel (Esc)"))
        self._update_heading()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _update_heading(self) -> None:
        if self.current is None:
            self.heading.setText(self.tr("New incident"))
        else:
            self.heading.setText(self.tr("Incident No. {num}").format(num=self.current.num))

    # --- loading ------------------------------------------------------------------------------

    def set_stations(self, stations: Sequence[StationView]) -> None:
        self._station_codes = {s.code for s in stations}
        self._station_names.setStringList(
            [f"{s.code}{STATION_SEPARATOR}{s.name}" for s in stations])

    def _station_code(self) -> str:
        """The station in the field: its code, or the one station whose code or name holds
        the typed text (a name typed without picking it from the list)."""
        text = self.station.text().strip()
        code = station_code_of(text)
        if not code or code in self._station_codes or not self._station_codes:
            return code
        folded = text.casefold()
        matches = [entry for entry in self._station_names.stringList()
                   if folded in entry.casefold()]
        return station_code_of(matches[0]) if len(matches) == 1 else code

    def new_incident(self, station_code: str = "", focus: bool = True) -> None:
        """A blank form with the time set to now; the cursor goes to the station."""
        self.current = None
        self._tz = None
        self.station.setText(station_code)
        self.observed_at.setDateTime(QDateTime(local_now()))
        self.category.setCurrentIndex(0)
        self._select(self.severity, "minor")
        self._select(self.status, "new")
        self.description.clear()
        self.witnesses.clear()
        self.reporter.clear()
        self.evidence.show_incident(None, ())
        self._update_heading()
        if focus:
            self.station.setFocus()

    def show_incident(self, view: IncidentView) -> None:
        self.current = view
        self._tz = view.observed_at.tzinfo
        self.station.setText(f"{view.station_code}{STATION_SEPARATOR}{view.station_name}")
        self.observed_at.setDateTime(QDateTime(view.observed_at.replace(tzinfo=None)))
        self._select(self.category, view.category)
        self._select(self.severity, view.severity)
        self._select(self.status, view.status)
        self.description.setPlainText(view.description)
        self.witnesses.setText("; ".join(view.witnesses))
        self.reporter.setText(view.reporter or "")
        for line in (self.station, self.witnesses, self.reporter):
            line.setCursorPosition(0)  # show the start (the station's code), not the tail
        self.evidence.show_incident(view.id, view.evidence)
        self._update_heading()

    def load(self, incident_id: str) -> None:
        """Fetch the incident with its evidence and show it."""
        self._storage.submit(lambda ctx: get_incident(ctx.store, incident_id), self.show_incident)

    # --- reading the form -----------------------------------------------------------------------

    def _observed_at(self) -> datetime:
        naive = self.observed_at.dateTime().toPython()
        assert isinstance(naive, datetime)
        naive = naive.replace(second=0, microsecond=0)
        return naive.replace(tzinfo=self._tz) if self._tz is not None else naive.astimezone()

    def values(self) -> dict[str, Any]:
        """The form's content in edit_incident's terms."""
        return {
            "station_code": self._station_code(),
            "observed_at": self._observed_at(),
            "category": self.category.currentData(),
            "severity": self.severity.currentData(),
            "status": self.status.currentData(),
            "description": self.description.toPlainText().strip(),
            "witnesses": [w.strip() for w in self.witnesses.text().split(";") if w.strip()],
            "reporter": self.reporter.text().strip() or None,
        }

    def changes(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(old, new) values of the fields that differ from the loaded incident."""
        assert self.current is not None
        old_all, new_all = editable_values(self.current), self.values()
        if old_all["observed_at"].replace(second=0, microsecond=0) == new_all["observed_at"]:
            new_all["observed_at"] = old_all["observed_at"]  # seconds are not shown: keep them
        keys = [k for k in new_all if new_all[k] != old_all[k]]
        return {k: old_all[k] for k in keys}, {k: new_all[k] for k in keys}

    @property
    def dirty(self) -> bool:
        if self.current is None:
            return bool(self.description.toPlainText().strip())
        return bool(self.changes()[1])

    # --- saving ---------------------------------------------------------------------------------

    def save(self) -> None:
        if self._saving:
            return
        values = self.values()
        problem = self._check(values)
        if problem:
            errors.report(InvalidInput(problem), self)
            return
        if self.current is None:
            draft = IncidentDraft(
                station_code=values["station_code"], category=values["category"],
                observed_at=values["observed_at"], description=values["description"],
                severity=values["severity"], status=values["status"],
                witnesses=tuple(values["witnesses"]), reporter=values["reporter"],
            )
            self._set_saving(True)
            self._storage.submit(lambda ctx: add_incident(ctx.store, draft), self._added,
                                 self._save_failed)
            return
        old, new = self.changes()
        if not new:
            return
        incident_id = self.current.id
        self._set_saving(True)
        self._storage.submit(lambda ctx: edit_incident(ctx.store, incident_id, **new),
                             lambda view: self._edited(view, old, new), self._save_failed)

    def _check(self, values: dict[str, Any]) -> str:
        """The usual slips, caught before a round trip to the worker and explained in the
        user's language ("" if none): app/ would refuse them in English."""
        code = values["station_code"]
        if not code:
            self.station.setFocus()
            return self.tr("Choose the station (type its code or part of its name).")
        known = self._station_codes or {code}
        unchanged = self.current is not None and code == self.current.station_code
        if code not in known and not unchanged:
            self.station.setFocus()
            return self.tr("There is no station {code} in this election. Type its code or "
                           "part of its name and choose it from the list.").format(code=code)
        if not values["description"]:
            self.description.setFocus()
            return self.tr("Describe what happened.")
        return ""

    def _set_saving(self, saving: bool) -> None:
        self._saving = saving
        self.save_button.setEnabled(not saving)
        self.busy_changed.emit(saving)

    def _save_failed(self, exc: BaseException) -> None:
        # Photos waiting for this save stay waiting: they follow once the form is corrected.
        self._set_saving(False)
        errors.report(exc, self)

    def _added(self, view: IncidentView) -> None:
        self._set_saving(False)
        self._undo.push(AddIncident(self.tr("Log incident No. {num}").format(num=view.num),
                                    self._storage, view, self.refresh_if_current))
        self.show_incident(view)
        self.saved.emit(view)

    def _edited(self, view: IncidentView, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._set_saving(False)
        self._undo.push(EditIncident(self.tr("Edit incident No. {num}").format(num=view.num),
                                     self._storage, view.id, old, new, self.refresh_if_current))
        self.show_incident(view)
        self.saved.emit(view)

    def refresh_if_current(self, view: IncidentView) -> None:
        """After an undo/redo: show the incident's new state if it is the one on screen."""
        if self.current is not None and self.current.id == view.id:
            if view.deleted:
                self.new_incident(focus=False)
            else:
                self.load(view.id)
        self.saved.emit(view)

    def _save_for_evidence(self) -> None:
        """Photos were dropped on a new incident: save it so they have something to attach to."""
        if self.current is None:
            self.save()

    def cancel(self) -> None:
        """Esc: throw away unsaved changes (a new form is cleared, an existing one reloaded)."""
        if self.current is None:
            self.new_incident(station_code=self.station.text())
        else:
            self.show_incident(self.current)
