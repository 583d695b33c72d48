"""The main window driven by the keyboard, as a team lead on the phone would."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.incidents import IncidentFilter, list_incidents
from app.store import Store
from tests.ui.conftest import REPORTS, Messages, type_text, wait_idle
from ui.application import KuaApp
from ui.main_window import MainWindow


def shortcut(qtbot: Any, window: MainWindow, keys: str) -> None:
    """Press a shortcut the way Qt dispatches it: through the focused widget."""
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(keys)[0]
    target = window.focusWidget() or window
    QTest.keyClick(target, combo.key(), combo.keyboardModifiers())


def test_log_an_incident_by_keyboard_only(qtbot: Any, window: MainWindow) -> None:
    window.focus_list()
    shortcut(qtbot, window, "Ctrl+N")
    editor = window.editor
    assert window.focusWidget() is editor.station
    QTest.keyClicks(editor.station, "75-004")
    QTest.keyClick(editor.station, Qt.Key.Key_Tab)
    # time keeps its default (now); on to category: type the start of its label
    QTest.keyClick(editor.observed_at, Qt.Key.Key_Tab)
    QTest.keyClicks(editor.category, "Vote")  # (a space would open the list)
    assert editor.category.currentData() == "vote_buying"
    QTest.keyClick(editor.category, Qt.Key.Key_Tab)
    QTest.keyClicks(editor.severity, "Cr")
    assert editor.severity.currentData() == "critical"
    QTest.keyClick(editor.severity, Qt.Key.Key_Tab)
    QTest.keyClick(editor.status, Qt.Key.Key_Tab)
    type_text(editor.description, "Раздают деньги за фото бюллетеня")
    QTest.keyClick(editor.description, Qt.Key.Key_Tab)
    type_text(editor.witnesses, "Ким М.; Ли С.")
    QTest.keyClick(editor.witnesses, Qt.Key.Key_Tab)
    type_text(editor.reporter, "Ерлан")
    with qtbot.waitSignal(editor.saved, timeout=10_000) as saved:
        QTest.keyClick(editor.reporter, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    view = saved.args[0]
    assert (view.station_code, view.category, view.severity) == ("75-004", "vote_buying",
                                                                  "critical")
    assert view.witnesses == ("Ким М.", "Ли С.")
    assert view.reporter == "Ерлан"
    qtbot.waitUntil(lambda: window.incidents.rowCount() == len(REPORTS) + 1)
    qtbot.waitUntil(lambda: window.counts is not None and window.counts.incidents == 5)
    assert editor.current is not None and editor.current.id == view.id


def test_ctrl_enter_saves_from_the_description(qtbot: Any, window: MainWindow) -> None:
    editor = window.editor
    window.new_incident()
    QTest.keyClicks(editor.station, "75-002")
    type_text(editor.description, "Урна не опломбирована")
    with qtbot.waitSignal(editor.saved, timeout=10_000):
        QTest.keyClick(editor.description, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert editor.description.toPlainText() == "Урна не опломбирована"


def test_saving_without_station_explains(qtbot: Any, window: MainWindow,
                                         messages: Messages) -> None:
    window.new_incident()
    QTest.keyClicks(window.editor.description, "something")
    window.editor.save()
    assert "station" in messages.texts()
    assert window.editor.current is None


def test_search_in_russian_and_kazakh_any_case(qtbot: Any, window: MainWindow) -> None:
    search = window.filters.search
    for text, expected in (
        ("БЮЛЛЕТ", 1),  # Russian, upper case: "бюллетеней"
        ("байқаушы", 1),  # Kazakh, lower case: "Байқаушыға"
        ("ҮГІТ", 1),  # Kazakh capitals Ү, І: "үгіт"
        ("елка", 1),  # ё/е folded: "ЁЛКА"
        ("нет такого", 0),
    ):
        search.clear()
        with qtbot.waitSignal(window.refreshed, timeout=5_000):
            type_text(search, text)  # debounced: one query after typing stops
        assert window.incidents.rowCount() == expected, text
    window.clear_filters()
    qtbot.waitUntil(lambda: window.incidents.rowCount() == len(REPORTS))


def test_filters_by_station_and_category(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.stations.rowCount() > 1)
    row = next(r for r in range(1, window.stations.rowCount())
               if window.stations.index(r, 0).data().startswith("75-001"))
    with qtbot.waitSignal(window.refreshed):
        window.station_view.setCurrentIndex(window.stations.index(row, 0))
    assert window.incidents.rowCount() == 2
    category = window.filters.category
    with qtbot.waitSignal(window.refreshed):
        category.setCurrentIndex(category.findData("campaigning"))
    assert window.incidents.rowCount() == 1
    with qtbot.waitSignal(window.refreshed):
        shortcut(qtbot, window, "Ctrl+Shift+L")
    assert window.incidents.rowCount() == len(REPORTS)


def test_open_edit_and_undo_the_edit(qtbot: Any, window: MainWindow) -> None:
    editor = window.editor
    with qtbot.waitSignal(editor.evidence.model.modelReset, timeout=5_000):
        window.table.setCurrentIndex(window.incidents.index(0, 0))
    original = editor.current
    assert original is not None
    editor.description.setPlainText("Исправленный текст")
    editor.status.setCurrentIndex(editor.status.findData("verified"))
    with qtbot.waitSignal(editor.saved):
        editor.save()
    assert editor.current is not None and editor.current.status == "verified"
    with qtbot.waitSignal(editor.saved, timeout=5_000):
        window.actions["undo"].trigger()
    wait_idle(qtbot, window)
    assert editor.current is not None
    assert (editor.current.description, editor.current.status) == (original.description,
                                                                   original.status)
    with qtbot.waitSignal(editor.saved, timeout=5_000):
        window.actions["redo"].trigger()
    wait_idle(qtbot, window)
    assert editor.current is not None and editor.current.status == "verified"


def test_delete_and_undo_the_delete(qtbot: Any, window: MainWindow, kua: KuaApp) -> None:
    with qtbot.waitSignal(window.evidence.model.modelReset, timeout=5_000):
        window.table.setCurrentIndex(window.incidents.index(0, 0))
    victim = window.editor.current
    assert victim is not None
    window.table.setFocus()
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        QTest.keyClick(window.table, Qt.Key.Key_Delete)
    assert window.incidents.rowCount() == len(REPORTS) - 1
    assert window.editor.current is None
    shortcut(qtbot, window, "Ctrl+Z")
    qtbot.waitUntil(lambda: window.incidents.rowCount() == len(REPORTS), timeout=5_000)
    wait_idle(qtbot, window)
    with Store(kua.data_dir) as store:
        assert victim.id in {i.id for i in list_incidents(store, IncidentFilter())}


def test_unsaved_changes_are_not_dropped_silently(qtbot: Any, window: MainWindow,
                                                  messages: Messages) -> None:
    window.new_incident()
    QTest.keyClicks(window.editor.description, "half-typed report")
    messages.answer = False
    window.table.setCurrentIndex(window.incidents.index(1, 0))
    assert messages.asked
    assert window.editor.description.toPlainText() == "half-typed report"


def test_shortcuts_dialog_lists_the_keys(qtbot: Any, window: MainWindow) -> None:
    shortcut(qtbot, window, "F1")
    dialog = window.show_shortcuts()
    assert dialog.isVisible()
    text = dialog.text.text()
    for keys in ("Ctrl+N", "Ctrl+S", "Esc", "Ctrl+F", "Ctrl+Z", "Delete", "Ctrl+Shift+V"):
        assert keys in text
    dialog.close()


def test_status_bar_shows_database_counts_and_offline(window: MainWindow, kua: KuaApp) -> None:
    assert str(kua.data_dir) in window.db_label.text()
    assert "Incidents: 4" in window.counts_label.text()
    assert window.sync_label.text() == "Offline"


def test_ctrl_f_focuses_search(qtbot: Any, window: MainWindow) -> None:
    window.actions["find"].trigger()
    assert window.focusWidget() is window.filters.search
