"""The main window: stations on the left, the incident list in the middle, the editor right."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app import profile, taxonomy
from app.elections import (
    ElectionView,
    StationView,
    get_current_election,
    import_stations,
    list_stations,
)
from app.incidents import (
    Counts,
    IncidentFilter,
    IncidentView,
    get_incident,
    incident_nums,
    incidents_by_num,
    store_counts,
)
from app.taxonomy import LANGS
from ui import dialogs, errors
from ui.commands import DeleteIncident
from ui.evidence import EvidencePanel
from ui.filters import FilterBar
from ui.i18n import NATIVE_NAMES, Language
from ui.incident_editor import IncidentEditor
from ui.models import CODE_ROLE, IncidentTableModel, StationListModel
from ui.worker import JobContext, Worker

ROW_HEIGHT_EXTRA = 8  # px above the font height: rows are all the same height, never measured
# Initial widths of stations | incidents | form, for a 1366 px wide laptop screen; the list
# takes what a wider window adds.
SPLITTER_SIZES = (240, 786, 340)
EDITOR_MIN_WIDTH = 330
# Widest a term column gets before it elides (its tooltip has the whole label), and the least
# the description keeps.
TERM_COLUMN_MAX = {"category": 200, "severity": 130, "status": 130}


@dataclass(frozen=True)
class Overview:
    """What the side panel and status bar show, fetched in one job after each change."""

    election: ElectionView | None
    stations: list[StationView]
    counts: Counts


def _overview(ctx: JobContext) -> Overview:
    return Overview(get_current_election(ctx.store), list_stations(ctx.store),
                    store_counts(ctx.store))


def _nums(ctx: JobContext, flt: IncidentFilter) -> list[int] | None:
    if ctx.cancelled():  # superseded by a newer search before it started
        return None
    return incident_nums(ctx.store, flt)


def _incident_by_num(ctx: JobContext, num: int) -> IncidentView | None:
    found = incidents_by_num(ctx.store, [num])
    return get_incident(ctx.store, found[0].id) if found else None


class ShortcutsDialog(QDialog):
    """Help > Shortcuts: every key the app answers to, in the current language."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        self.retranslate()

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Ctrl+N", self.tr("New incident (the cursor goes to the station)")),
            ("Ctrl+S, Ctrl+Enter", self.tr("Save the incident")),
            ("Esc", self.tr("Cancel the changes in the form")),
            ("Tab, Shift+Tab", self.tr("Next / previous field")),
            ("Alt+S, Alt+T, Alt+C, Alt+V, Alt+U, Alt+W, Alt+I, Alt+R",
             self.tr("Go to station, time, category, severity, status, text, witnesses, "
                     "reporter")),
            ("Ctrl+F", self.tr("Search incidents")),
            ("Ctrl+L", self.tr("Go to the incident list (Enter opens the incident)")),
            ("Ctrl+Shift+L", self.tr("Clear the search and filters")),
            ("Delete", self.tr("Delete the incident (Ctrl+Z brings it back)")),
            ("Delete", self.tr("On a photo in the strip: detach it from the incident (Ctrl+Z "
                               "brings it back)")),
            ("Ctrl+Z", self.tr("Undo")),
            ("Ctrl+Shift+Z, Ctrl+Y", self.tr("Redo")),
            ("Ctrl+O", self.tr("Attach photos to the incident")),
            ("Shift+↑, Shift+↓", self.tr("In the list: choose several incidents")),
            ("Ctrl+P, Ctrl+Shift+E", self.tr("Complaint about the chosen incidents")),
            ("Ctrl+Shift+V", self.tr("Paste a photo or files from the clipboard")),
            ("F5", self.tr("Refresh")),
            ("F9, Ctrl+Shift+S", self.tr("Sync with the team server now")),
            ("F1", self.tr("This list")),
            ("Ctrl+Q", self.tr("Quit")),
        ]

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Keyboard shortcuts"))
        body = "".join(
            f"<tr><td style='padding-right:16px'><b>{keys}</b></td><td>{what}</td></tr>"
            for keys, what in self.rows()
        )
        self.text.setText(f"<table cellspacing='4'>{body}</table>")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class MainWindow(QMainWindow):
    refreshed = Signal()  # the incident list holds the result of the latest query
    overview_loaded = Signal()

    def __init__(self, storage: Worker, images: Worker, language: Language, data_dir: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.storage = storage
        self.images = images
        self.language = language
        self.data_dir = data_dir
        self.undo_stack = QUndoStack(self)
        self.election: ElectionView | None = None
        self.counts: Counts | None = None
        self._query: Any = None  # the running list query, cancelled when a newer one starts
        self._filter_changed = False  # the user changed the filters since the list was shown
        self._shortcuts: ShortcutsDialog | None = None
        self.composer: Any = None  # the open complaint composer, if any
        self.team_keys: Any = None
        self.station_check: Any = None  # the protocol window opened from a picture
        lang = language.current

        self.incidents = IncidentTableModel(self._fetch_page, lang, self)
        self.table = QTableView()
        self.table.setModel(self.incidents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Several rows can be chosen (Shift/Ctrl+click, Shift+arrows): a complaint may cover
        # several incidents. The current row is the one the form shows.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setCornerButtonEnabled(False)
        rows = self.table.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row height computation
        rows.setDefaultSectionSize(self.fontMetrics().height() + ROW_HEIGHT_EXTRA)
        columns = self.table.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        columns.setStretchLastSection(False)
        columns.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        columns.setMinimumSectionSize(40)
        self.table.setColumnHidden(7, True)  # the reporter is in the form and found by search
        self.table.selectionModel().currentRowChanged.connect(self._row_chosen)

        self.stations = StationListModel(self)
        self.station_view = QTableView()
        self.station_view.setModel(self.stations)
        self.station_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.station_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.station_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.station_view.verticalHeader().hide()
        # No column titles: the first row ("All stations 200") says what the numbers are, and
        # the room goes to the names.
        self.station_view.horizontalHeader().hide()
        self.station_view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.station_view.verticalHeader().setDefaultSectionSize(
            self.fontMetrics().height() + ROW_HEIGHT_EXTRA)
        self.station_view.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.station_view.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Fixed)
        self.station_view.horizontalHeader().resizeSection(
            1, self.fontMetrics().horizontalAdvance("99999") + 12)
        self.station_view.setWordWrap(False)
        self.station_view.setTextElideMode(Qt.TextElideMode.ElideRight)  # the tooltip has all
        self.station_view.setMinimumWidth(160)
        self.station_view.selectionModel().currentRowChanged.connect(
            lambda *_: self.refresh(filter_changed=True))

        self.filters = FilterBar(lang)
        self.filters.changed.connect(lambda: self.refresh(filter_changed=True))

        temp = data_dir / "cache" / "pasted"
        self.evidence = EvidencePanel(storage, images, temp, self.undo_stack)
        self.evidence.imported.connect(self._evidence_imported)
        self.evidence.detached.connect(self._evidence_detached)
        self.editor = IncidentEditor(storage, self.evidence, self.undo_stack, lang)
        self.editor.saved.connect(self._incident_saved)

        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.filters)
        middle_layout.addWidget(self.table, 1)
        editor_scroll = QScrollArea()
        editor_scroll.setWidget(self.editor)
        editor_scroll.setWidgetResizable(True)
        editor_scroll.setMinimumWidth(EDITOR_MIN_WIDTH)
        self.splitter = QSplitter()
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.station_view)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(editor_scroll)
        # A wider window gives its extra room to the incident list; the sides keep theirs.
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes(list(SPLITTER_SIZES))
        self.setCentralWidget(self.splitter)

        self.db_label = QLabel(str(data_dir))
        self.counts_label = QLabel()
        self.statusBar().addWidget(self.db_label, 1)
        self.statusBar().addPermanentWidget(self.counts_label)
        from ui.sync import SyncPanel

        self.actions: dict[str, QAction] = {}  # before the sync panel, which adds its own
        self.sync = SyncPanel(self)  # background sync, its status and its menu entries
        self.sync_label = self.sync.state_label
        self.statusBar().addPermanentWidget(self.sync)

        self._build_menus()
        self.retranslate()
        self.fit_columns()
        self.resize(1366, 740)
        self.refresh_overview()
        self.refresh()

    # --- menus ------------------------------------------------------------------------------

    def _action(self, key: str, slot: Any, *shortcuts: QKeySequence | str) -> QAction:
        action = QAction(self)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        self.addAction(action)
        self.actions[key] = action
        return action

    def _build_menus(self) -> None:
        undo = self.undo_stack.createUndoAction(self)
        undo.setShortcuts(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self)
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.actions["undo"], self.actions["redo"] = undo, redo
        a = self._action
        self.file_menu = self.menuBar().addMenu("")
        self.file_menu.addAction(a("new", self.new_incident, "Ctrl+N"))
        self.file_menu.addSeparator()
        self.file_menu.addAction(a("import_stations", self.import_stations))
        self.file_menu.addAction(a("demo", self.load_demo))
        self.file_menu.addSeparator()
        self.file_menu.addAction(a("quit", self.close, "Ctrl+Q"))

        self.edit_menu = self.menuBar().addMenu("")
        self.edit_menu.addAction(undo)
        self.edit_menu.addAction(redo)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(a("save", self.editor.save, "Ctrl+S", "Ctrl+Return",
                                   "Ctrl+Enter"))
        self.edit_menu.addAction(a("cancel", self.editor.cancel, "Esc"))
        self.edit_menu.addAction(a("delete", self.delete_incident, QKeySequence.StandardKey.Delete))
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(a("attach", self.evidence.choose_files, "Ctrl+O"))
        self.edit_menu.addAction(a("paste_photo", self.evidence.paste, "Ctrl+Shift+V"))

        self.incident_menu = self.menuBar().addMenu("")
        self.incident_menu.addAction(a("complaint", self.open_complaint, "Ctrl+P",
                                       "Ctrl+Shift+E"))

        self.view_menu = self.menuBar().addMenu("")
        self.view_menu.addAction(a("find", self.focus_search, "Ctrl+F"))
        self.view_menu.addAction(a("list", self.focus_list, "Ctrl+L"))
        self.view_menu.addAction(a("clear_filters", self.clear_filters, "Ctrl+Shift+L"))
        self.view_menu.addAction(a("refresh", self.refresh_all, "F5"))

        self.tools_menu = self.menuBar().addMenu("")
        self.tools_menu.addAction(a("protocol_entry", self.open_protocol_entry))
        self.tools_menu.addAction(a("forensics", self.open_forensics))
        self.tools_menu.addAction(a("discrepancies", self.open_discrepancies))
        self.tools_menu.addSeparator()
        self.tools_menu.addAction(a("profile", self.edit_profile))
        self.tools_menu.addSeparator()
        self.tools_menu.addAction(a("team_keys", self.open_team_keys))
        self.tools_menu.addAction(a("export_ca", self.export_ca_certificate))
        self.sync.add_to_menu(self.tools_menu)

        self.language_menu = self.menuBar().addMenu("")
        group = QActionGroup(self)
        for lang in LANGS:
            action = a(f"lang_{lang}", lambda lang=lang: self.switch_language(lang))
            action.setText(NATIVE_NAMES[lang])
            action.setCheckable(True)
            action.setChecked(lang == self.language.current)
            group.addAction(action)
            self.language_menu.addAction(action)

        self.help_menu = self.menuBar().addMenu("")
        self.help_menu.addAction(a("shortcuts", self.show_shortcuts, "F1"))
        self.help_menu.addAction(a("about", self.show_about))

    def retranslate(self) -> None:
        self.file_menu.setTitle(self.tr("&File"))
        self.edit_menu.setTitle(self.tr("&Edit"))
        self.incident_menu.setTitle(self.tr("&Incident"))
        self.view_menu.setTitle(self.tr("&View"))
        self.tools_menu.setTitle(self.tr("&Tools"))
        self.language_menu.setTitle(self.tr("&Language"))
        self.help_menu.setTitle(self.tr("&Help"))
        texts = {
            "new": self.tr("&New incident"),
            "import_stations": self.tr("&Import station list…"),
            "demo": self.tr("Load the &demo election"),
            "quit": self.tr("&Quit"),
            "save": self.tr("&Save incident"),
            "cancel": self.tr("&Cancel changes"),
            "delete": self.tr("&Delete incident"),
            "attach": self.tr("&Attach photos…"),
            "paste_photo": self.tr("&Paste photo"),
            "complaint": self.tr("&Complaint…"),
            "protocol_entry": self.tr("Enter a &protocol…"),
            "forensics": self.tr("Election &forensics…"),
            "discrepancies": self.tr("Disc&repancies…"),
            "profile": self.tr("Your &details…"),
            "team_keys": self.tr("&Team keys…"),
            "export_ca": self.tr("E&xport CA certificate…"),
            "find": self.tr("&Find…"),
            "list": self.tr("Incident &list"),
            "clear_filters": self.tr("&Clear filters"),
            "refresh": self.tr("&Refresh"),
            "shortcuts": self.tr("&Keyboard shortcuts"),
            "about": self.tr("&About Kuä"),
        }
        for key, text in texts.items():
            self.actions[key].setText(text)
        self.actions["undo"].setText(self.tr("&Undo"))
        self.actions["redo"].setText(self.tr("&Redo"))
        self.db_label.setToolTip(self.tr("Database"))
        self._show_counts()
        self._update_title()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _update_title(self) -> None:
        if self.election is None:
            self.setWindowTitle("Kuä")
        else:
            self.setWindowTitle(f"Kuä — {self.election.name} ({self.election.date})")

    def _show_counts(self) -> None:
        if self.counts is None:
            self.counts_label.setText("")
            return
        self.counts_label.setText(self.tr("Stations: {s}  ·  Incidents: {i}  ·  Photos: {e}")
                                  .format(s=self.counts.stations, i=self.counts.incidents,
                                          e=self.counts.evidence))

    def fit_columns(self) -> None:
        """Size the list's columns to their content in the current language: the time and
        code to their text, each term column to its longest label (up to a limit)."""
        metrics = self.table.fontMetrics()
        header = self.table.horizontalHeader()
        pad = 2 * self.table.style().pixelMetric(
            self.table.style().PixelMetric.PM_FocusFrameHMargin) + 10

        def fit(column: str, texts: list[str], limit: int = 10_000) -> None:
            col = IncidentTableModel.COLUMNS.index(column)
            title = self.incidents.headerData(col, Qt.Orientation.Horizontal)
            widest = max(metrics.horizontalAdvance(t) for t in [*texts, str(title)])
            header.resizeSection(col, min(widest + pad, limit))

        lang = self.language.current
        fit("num", ["9999"])
        fit("time", ["30.12 23:59"])
        fit("station", ["99-999"])
        for column, terms in (("category", taxonomy.categories()),
                              ("severity", taxonomy.severities()),
                              ("status", taxonomy.statuses())):
            fit(column, [t.label(lang) for t in terms], TERM_COLUMN_MAX[column])

    # --- data -------------------------------------------------------------------------------

    def _fetch_page(self, nums: list[int], deliver: Any) -> None:
        self.storage.submit(lambda ctx: incidents_by_num(ctx.store, nums), deliver)

    def selected_station_codes(self) -> tuple[str, ...]:
        code = self.station_view.currentIndex().data(CODE_ROLE)
        return () if code is None else (code,)

    def current_filter(self) -> IncidentFilter:
        return self.filters.incident_filter(self.selected_station_codes())

    def refresh(self, filter_changed: bool = False) -> None:
        """Re-run the list query with the current filters (the newest query wins).
        filter_changed: the user changed the filters or search (not a sync, save or delete)."""
        if self._query is not None:
            self._query.cancel()
        self._filter_changed |= filter_changed
        flt = self.current_filter()
        self._query = self.storage.submit(lambda ctx: _nums(ctx, flt), self._nums_arrived)

    def _nums_arrived(self, nums: list[int] | None) -> None:
        """The new list keeps what the user chose, by incident (rows move as incidents come,
        go and change): the chosen ones still listed, the current one, the scroll position."""
        if nums is None:
            return
        self._query = None
        filter_changed, self._filter_changed = self._filter_changed, False
        selection = self.table.selectionModel()
        chosen = self.incidents.nums_in(selection.selection())
        current = self.incidents.num_at(self.table.currentIndex().row())
        top = self.incidents.num_at(self.table.rowAt(0))
        scrolled = self.table.verticalScrollBar().value()
        self.incidents.set_nums(nums)
        shown = self.editor.current
        if shown is not None and self.incidents.row_of_num(shown.num) is not None:
            # The form's incident is the current row whenever the list has it (one just
            # saved as new, or back after a filter change).
            current = shown.num
            chosen.append(shown.num)
        selection.blockSignals(True)  # the form shows the current incident already
        selection.select(self.incidents.selection_of(chosen),
                         QItemSelectionModel.SelectionFlag.ClearAndSelect)
        row = None if current is None else self.incidents.row_of_num(current)
        if row is not None:
            selection.setCurrentIndex(self.incidents.index(row, 0),
                                      QItemSelectionModel.SelectionFlag.NoUpdate)
        selection.blockSignals(False)
        self._restore_scroll(top, scrolled, filter_changed)
        self.refreshed.emit()

    def _restore_scroll(self, top: int | None, scrolled: int, filter_changed: bool) -> None:
        """After a filter change, show the current incident (or the top); otherwise keep the
        list where it was: the same incident at the top, or at the very top to show new ones."""
        self.table.doItemsLayout()  # the scroll range of the new row count
        if filter_changed:
            if self.table.currentIndex().isValid():
                self.table.scrollTo(self.table.currentIndex())
            else:
                self.table.scrollToTop()
            return
        row = None if top is None or scrolled == 0 else self.incidents.row_of_num(top)
        if row is None:
            self.table.verticalScrollBar().setValue(scrolled)
        else:
            self.table.scrollTo(self.incidents.index(row, 0),
                                QAbstractItemView.ScrollHint.PositionAtTop)

    def refresh_overview(self) -> None:
        self.storage.submit(_overview, self._overview_arrived)

    def _overview_arrived(self, overview: Overview) -> None:
        self.election = overview.election
        self.counts = overview.counts
        self.filters.set_election_day(None if self.election is None else self.election.date)
        code = self.selected_station_codes()
        selection = self.station_view.selectionModel()
        selection.blockSignals(True)
        self.stations.set_stations(overview.stations)
        row = next((r + 1 for r, s in enumerate(overview.stations) if (s.code,) == code), 0)
        self.station_view.setCurrentIndex(self.stations.index(row, 0))
        selection.blockSignals(False)
        self.editor.set_stations(overview.stations)
        self._show_counts()
        self._update_title()
        self.overview_loaded.emit()

    def refresh_all(self) -> None:
        self.refresh_overview()
        self.refresh()

    def refresh_after_sync(self) -> None:
        """Changes arrived from the team: the lists, and the form unless it is being edited."""
        self.refresh_all()
        current = self.editor.current
        if current is not None and not self.editor.dirty:
            self.storage.submit(lambda ctx: _incident_by_num(ctx, current.num),
                                self._open_incident)

    def _incident_saved(self, _view: IncidentView) -> None:
        self.refresh_all()

    def _evidence_imported(self, _incident_id: str) -> None:
        self.refresh_overview()

    def _evidence_detached(self, view: Any, detached: bool) -> None:
        if detached:
            self.statusBar().showMessage(self.tr(
                "Photo {name} detached from the incident. Ctrl+Z brings it back.").format(
                    name=view.original_name), 8000)
        else:
            self.statusBar().showMessage(self.tr("Photo {name} attached again.").format(
                name=view.original_name), 8000)

    # --- actions ----------------------------------------------------------------------------

    def new_incident(self) -> None:
        code = self.selected_station_codes()
        self.table.selectionModel().clearCurrentIndex()
        self.editor.new_incident(code[0] if code else "")

    def _row_chosen(self, current: QModelIndex, previous: QModelIndex) -> None:
        num = self.incidents.num_at(current.row()) if current.isValid() else None
        if num is None:
            return
        if self.editor.current is not None and self.editor.current.num == num:
            return
        if self.editor.dirty and not dialogs.ask(
            self, self.tr("Unsaved changes"),
            self.tr("The incident in the form has unsaved changes. Discard them?"),
        ):
            selection = self.table.selectionModel()
            selection.blockSignals(True)
            selection.setCurrentIndex(previous, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
            selection.blockSignals(False)
            return
        self.storage.submit(lambda ctx: _incident_by_num(ctx, num), self._open_incident)

    def _open_incident(self, view: IncidentView | None) -> None:
        if view is not None:
            self.editor.show_incident(view)

    def delete_incident(self) -> None:
        current = self.editor.current
        if current is None:
            return
        self.undo_stack.push(DeleteIncident(
            self.tr("Delete incident No. {num}").format(num=current.num), self.storage,
            current.id, self._deleted_or_restored))
        self.statusBar().showMessage(
            self.tr("Incident No. {num} deleted. Ctrl+Z brings it back.").format(num=current.num),
            8000)

    def _deleted_or_restored(self, view: IncidentView) -> None:
        if view.deleted and self.editor.current is not None and self.editor.current.id == view.id:
            # Focus stays where it was: Ctrl+Z in a text field would undo typing, not this.
            self.editor.new_incident(focus=False)
        self.refresh_all()

    def selected_nums(self) -> list[int]:
        """The chosen rows' incidents in list order; the current row if none is chosen."""
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        if not rows and self.table.currentIndex().isValid():
            rows = [self.table.currentIndex().row()]
        nums = [self.incidents.num_at(r) for r in rows]
        return [n for n in nums if n is not None]

    def open_complaint(self) -> Any:
        """Incident > Complaint: the composer for the chosen incidents."""
        from ui.complaint import ComplaintComposer

        nums = self.selected_nums()
        if not nums and self.editor.current is not None:
            nums = [self.editor.current.num]
        if not nums:
            dialogs.tell(self, dialogs.Kind.INFO, self.tr("Complaint"), self.tr(
                "Choose one or more incidents in the list first (Shift+arrows or Ctrl+click "
                "choose several)."))
            return None
        if self.composer is not None:
            self.composer.close()
        composer = ComplaintComposer(self.storage, self.data_dir, nums, self.language.current,
                                     self)
        composer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        composer.destroyed.connect(lambda *_: self._forget_composer(composer))
        self.composer = composer
        composer.show()
        return composer

    def _forget_composer(self, composer: Any) -> None:
        if self.composer is composer:
            self.composer = None

    def _protocol_window(self, country_profile: Any) -> Any:
        """A protocol window on this window's workers, following its language; deleted when
        closed."""
        from ui.protocols import ProtocolEntry

        entry = ProtocolEntry(self.storage, self.images, country_profile, self.language, self)
        entry.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return entry

    def open_protocol_entry(self) -> None:
        """Tools > Enter a protocol: the photo and the figures side by side, checked live."""
        from app.protocols import current_profile

        def show(country_profile: Any) -> None:
            entry = self._protocol_window(country_profile)
            self.protocol_entry = entry
            entry.show()

        self.storage.submit(lambda ctx: current_profile(ctx.store), show)

    def open_forensics(self) -> None:
        """Tools > Election forensics: turnout histogram and turnout vs the leader's share."""
        from ui.forensics import ForensicsWindow

        window = ForensicsWindow(self.storage, self)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.station_chosen.connect(self.show_station)
        self.forensics = window
        window.show()

    def open_discrepancies(self) -> Any:
        """Tools > Discrepancies: copies that differ from the official result; an incident
        from a finding."""
        from ui.discrepancies import DiscrepanciesWindow

        window = DiscrepanciesWindow(self.storage, self.language, self)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.incident_created.connect(lambda _view: self.refresh_all())
        window.station_chosen.connect(lambda code: self.select_station(code))
        self.discrepancies = window
        window.show()
        return window

    def select_station(self, code: str) -> bool:
        """Choose the station in the station list (the incident list then shows its
        incidents). False when the list does not have it."""
        for row in range(self.stations.rowCount()):
            index = self.stations.index(row, 0)
            if index.data(CODE_ROLE) == code:
                self.station_view.setCurrentIndex(index)
                self.station_view.scrollTo(index)
                return True
        return False

    def show_station(self, code: str, source: str = "official") -> None:
        """A station chosen in a picture: selected in the list, and its protocol from that
        source shown with its control relations in a protocol window (one at a time)."""
        from app.protocols import current_profile, get_protocol

        self.select_station(code)
        lang = self.language.current

        def job(ctx: JobContext) -> Any:
            return current_profile(ctx.store), get_protocol(ctx.store, code, source, lang)

        def show(found: Any) -> None:
            country_profile, view = found
            if self.station_check is not None:
                self.station_check.close()
            entry = self._protocol_window(country_profile)
            entry.destroyed.connect(lambda *_: self._forget_station_check(entry))
            entry.show_protocol(view)
            self.station_check = entry
            entry.show()

        self.storage.submit(job, show, lambda exc: errors.report(exc, self))

    def _forget_station_check(self, entry: Any) -> None:
        if self.station_check is entry:
            self.station_check = None

    def edit_profile(self) -> None:
        from ui.profile_dialog import ProfileDialog

        def show(applicant: Any) -> None:
            dialog = ProfileDialog(self.storage, applicant, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()
            self.profile_dialog = dialog

        self.storage.submit(lambda ctx: profile.get_applicant(ctx.store), show)

    def open_team_keys(self) -> Any:
        from ui.team_keys import TeamKeysDialog

        if self.team_keys is not None:
            self.team_keys.show()
            self.team_keys.raise_()
            return self.team_keys
        dialog = TeamKeysDialog(self.storage, self.data_dir, parent=self)
        self.team_keys = dialog
        dialog.show()

        def fill_name(applicant: Any) -> None:
            if not dialog.full_name.text():
                dialog.full_name.setText(applicant.full_name)

        self.storage.submit(lambda ctx: profile.get_applicant(ctx.store), fill_name)
        return dialog

    def export_ca_certificate(self) -> None:
        from ui.team_keys import export_ca_certificate

        export_ca_certificate(self, self.storage, self.data_dir)

    def focus_search(self) -> None:
        self.filters.search.setFocus()
        self.filters.search.selectAll()

    def focus_list(self) -> None:
        self.table.setFocus()
        if not self.table.currentIndex().isValid() and self.incidents.rowCount():
            self.table.setCurrentIndex(self.incidents.index(0, 0))

    def clear_filters(self) -> None:
        self.station_view.selectionModel().blockSignals(True)
        self.station_view.setCurrentIndex(self.stations.index(0, 0))
        self.station_view.selectionModel().blockSignals(False)
        self.filters.clear()

    def switch_language(self, lang: str) -> None:
        self.language.switch(lang)
        self.actions[f"lang_{lang}"].setChecked(True)
        self.incidents.set_language(lang)
        self.editor.set_language(lang)
        self.filters.set_language(lang)
        self.fit_columns()
        self.storage.submit(lambda ctx: profile.set_language(ctx.store, lang))

    def import_stations(self) -> None:
        path = dialogs.choose_file(self, self.tr("Import station list"),
                                   self.tr("Station lists") + " (*.csv *.txt);;"
                                   + self.tr("All files") + " (*)")
        if path is not None:
            self.import_stations_from(path)

    def import_stations_from(self, path: Path) -> None:
        def done(result: Any) -> None:
            dialogs.tell(self, dialogs.Kind.INFO, self.tr("Station list imported"),
                         self.tr("{file}: {created} added, {updated} updated, {unchanged} "
                                 "unchanged.").format(file=result.file, created=result.created,
                                                      updated=result.updated,
                                                      unchanged=result.unchanged))
            self.refresh_all()

        self.storage.submit(lambda ctx: import_stations(ctx.store, path), done)

    def load_demo(self) -> None:
        self.statusBar().showMessage(self.tr("Loading the demo election…"))

        def job(ctx: JobContext) -> str:
            from app.demo import make_demo

            return make_demo(ctx.store)

        def done(_summary: str) -> None:
            self.statusBar().showMessage(self.tr("The demo election is loaded."), 8000)
            self.refresh_all()

        self.storage.submit(job, done)

    def show_shortcuts(self) -> ShortcutsDialog:
        if self._shortcuts is None:
            self._shortcuts = ShortcutsDialog(self)
        self._shortcuts.show()
        self._shortcuts.raise_()
        return self._shortcuts

    def show_about(self) -> None:
        dialogs.tell(self, dialogs.Kind.INFO, self.tr("About Kuä"), self.tr(
            "Kuä (Kazakh for \"witness\") keeps the evidence of election observers: incidents, "
            "photos and protocols, on this computer and without a network.\n\nData folder: "
            "{path}").format(path=self.data_dir))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.editor.dirty and not dialogs.ask(
            self, self.tr("Unsaved changes"),
            self.tr("The incident in the form has unsaved changes. Quit anyway?"),
        ):
            event.ignore()
            return
        if self.evidence.importing:
            self.evidence.cancel_import()
        for viewer in list(self.evidence.viewers):
            viewer.close()
        self.sync.close_sync()
        super().closeEvent(event)

