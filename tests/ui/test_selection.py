"""The incident list keeps what the user chose, by incident and not by row, whenever it reloads:
after a background sync, a delete, a search; and it stays scrolled where it was."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView

from app.incidents import (
    IncidentDraft,
    IncidentFilter,
    add_incident,
    edit_incident,
    list_incidents,
    set_deleted,
)
from app.store import Store
from app.sync.client import sync_once
from tests.ui.conftest import ALMATY, REPORTS, Messages, type_text, wait_idle
from tests.ui.test_sync_ui import enrol_window, own_server, second_laptop
from ui.application import KuaApp
from ui.main_window import MainWindow


def nums_by_description(kua: KuaApp) -> dict[str, int]:
    with Store(kua.data_dir) as store:
        return {i.description: i.num for i in list_incidents(store, IncidentFilter())}


def reported(kua: KuaApp, *which: int) -> list[int]:
    """The keys of these REPORTS, in this order."""
    nums = nums_by_description(kua)
    return [nums[REPORTS[i][2]] for i in which]


def click(window: MainWindow, num: int, modifier: Any = Qt.KeyboardModifier.NoModifier) -> None:
    row = window.incidents.row_of_num(num)
    assert row is not None
    rect = window.table.visualRect(window.incidents.index(row, 1))
    QTest.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, modifier,
                     rect.center())


def choose(qtbot: Any, window: MainWindow, nums: list[int]) -> None:
    """Click the first, Ctrl+click the others: the last is the current one, open in the form."""
    click(window, nums[0])
    for num in nums[1:]:
        click(window, num, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.editor.current is not None
                    and window.editor.current.num == nums[-1], timeout=5_000)
    assert chosen(window) == set(nums)
    assert current(window) == nums[-1]


def chosen(window: MainWindow) -> set[int]:
    return set(window.selected_nums())


def current(window: MainWindow) -> int | None:
    return window.incidents.num_at(window.table.currentIndex().row())


def test_a_background_sync_keeps_the_chosen_incidents(
        qtbot: Any, kua: KuaApp, window: MainWindow, tmp_path: Path,
        messages: Messages) -> None:
    picked = reported(kua, 0, 2, 1)  # the last one current
    with own_server(tmp_path / "server") as (server, _proc):
        codes = server.codes("this", "second")
        enrol_window(qtbot, window, server.url, codes["this"])
        wait_idle(qtbot, window)
        choose(qtbot, window, picked)
        rows_before = [window.incidents.row_of_num(n) for n in picked]
        # Another laptop of the team reports a newer incident (it comes first in the list,
        # so every row moves down) and edits one of the chosen ones.
        second = second_laptop(tmp_path, server.url, codes["second"])
        try:
            add_incident(second, IncidentDraft(
                station_code="75-002", category="vote_buying",
                observed_at=datetime(2024, 3, 17, 18, 0, tzinfo=ALMATY),
                description="Со второго ноутбука"))
            theirs = next(i for i in list_incidents(second, IncidentFilter())
                          if i.description == REPORTS[2][2])
            edit_incident(second, theirs.id, status="verified")
            sync_once(second)
        finally:
            second.close()
        # The background sync brings them: the list reloads.
        with qtbot.waitSignal(window.sync.controller.finished, timeout=20_000):
            window.sync.controller.sync_now()
        qtbot.waitUntil(lambda: window.incidents.rowCount() == len(REPORTS) + 1,
                        timeout=10_000)
        wait_idle(qtbot, window)
    assert [window.incidents.row_of_num(n) for n in picked] == [r + 1 for r in rows_before
                                                                if r is not None]
    assert chosen(window) == set(picked)
    assert current(window) == picked[-1]
    assert window.editor.current is not None and window.editor.current.num == picked[-1]
    assert messages.told == []


def test_deleted_incidents_drop_out_of_the_choice(
        qtbot: Any, kua: KuaApp, window: MainWindow) -> None:
    first, second, third = picked = reported(kua, 3, 0, 2)
    choose(qtbot, window, picked)
    # One chosen, not the current one, deleted elsewhere (as a sync from the team would).
    with Store(kua.data_dir) as store:
        victim = next(i.id for i in list_incidents(store, IncidentFilter()) if i.num == first)
        set_deleted(store, victim, True)
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        window.refresh_after_sync()
    assert window.incidents.rowCount() == len(REPORTS) - 1
    assert chosen(window) == {second, third}
    assert current(window) == third
    # The current one deleted with the Delete key: the other stays chosen.
    window.table.setFocus()
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        QTest.keyClick(window.table, Qt.Key.Key_Delete)
    assert window.incidents.rowCount() == len(REPORTS) - 2
    assert chosen(window) == {second}
    assert current(window) is None
    wait_idle(qtbot, window)


def test_a_search_keeps_the_chosen_incidents_it_still_finds(
        qtbot: Any, kua: KuaApp, window: MainWindow) -> None:
    first, second, third = picked = reported(kua, 0, 1, 2)
    choose(qtbot, window, picked)
    # Words starting with "п": the first and third reports and the fourth, not the second.
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        type_text(window.filters.search, "п")
    assert window.incidents.rowCount() == 3
    assert window.incidents.row_of_num(second) is None
    assert chosen(window) == {first, third}
    assert current(window) == third
    # Back to all: the one the search left out is not chosen again, as in a mail client.
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        window.clear_filters()
    assert window.incidents.rowCount() == len(REPORTS)
    assert chosen(window) == {first, third}
    assert current(window) == third


def test_a_reload_keeps_the_list_scrolled_where_it_was(
        qtbot: Any, kua: KuaApp, window: MainWindow) -> None:
    start = datetime(2024, 3, 17, 7, 0, tzinfo=ALMATY)

    def add(store: Store, minutes: int) -> None:
        add_incident(store, IncidentDraft(
            station_code="75-001", category="campaigning",
            observed_at=start + timedelta(minutes=minutes), description=f"Плакат {minutes}"))

    with Store(kua.data_dir) as store:
        for n in range(100):
            add(store, n)
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        window.refresh_all()
    assert window.incidents.rowCount() == len(REPORTS) + 100
    window.table.doItemsLayout()  # the scroll range of the longer list, before scrolling
    window.table.scrollTo(window.incidents.index(50, 0),
                          QAbstractItemView.ScrollHint.PositionAtTop)
    top = window.incidents.num_at(window.table.rowAt(0))
    assert top is not None and window.table.rowAt(0) > 10
    with Store(kua.data_dir) as store:
        add(store, 11 * 60)  # the newest: the first row
    with qtbot.waitSignal(window.refreshed, timeout=5_000):
        window.refresh_after_sync()
    assert window.incidents.rowCount() == len(REPORTS) + 101
    assert window.incidents.num_at(window.table.rowAt(0)) == top
    wait_idle(qtbot, window)
