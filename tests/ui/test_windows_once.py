"""The sync, conflict, protocol and discrepancy windows: labels made once, the sync
status read once where once is enough, the protocol photo decoded on the image worker, the
protocol window following the interface language, one name per protocol source."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QLabel

import ui.main_window as main_window_module
import ui.sync as sync_module
from app.sync.client import SyncStatus
from app.sync.conflicts import ConflictView
from tests.ui.conftest import wait_idle
from tests.ui.test_protocols import PHOTO, open_entry
from ui import protocols
from ui.conflicts import ConflictDialog, ConflictItem
from ui.i18n import load_catalogue
from ui.main_window import MainWindow

ENROLLED = SyncStatus("https://team.example.org", "team", True, None, 0, 0, 0, 0)
SOURCE_NAMES = {"observer": "Observer's copy", "posted": "Posted copy",
                "official": "Official result"}


def switch(qtbot: Any, window: MainWindow, lang: str) -> None:
    """Through the Language menu; until every LanguageChange Qt posted has been handled."""
    window.actions[f"lang_{lang}"].trigger()
    title = load_catalogue(lang).get("&File", "&File")
    qtbot.waitUntil(lambda: window.file_menu.title() == title)
    qtbot.wait(50)  # one LanguageChange per translator removed or installed


def test_connect_dialog_keeps_its_labels_across_language_switches(
        qtbot: Any, window: MainWindow) -> None:
    dialog = window.sync.open_connect()
    before = len(dialog.findChildren(QLabel))
    fields = (dialog.server, dialog.code, dialog.cert_row)
    for lang in ("ru", "kk"):
        switch(qtbot, window, lang)
        catalogue = load_catalogue(lang)
        labels = [dialog.form.labelForField(f) for f in fields]
        texts = [label.text() if isinstance(label, QLabel) else None for label in labels]
        assert texts == [catalogue["Server address"], catalogue["Enrolment code"],
                         catalogue["Server certificate"]]
    assert len(dialog.findChildren(QLabel)) == before
    assert dialog.form.rowCount() == 3
    dialog.close()


@pytest.fixture
def startup(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The storage jobs of the window's start in the order they run (set up before the
    window): the laptop counts as enrolled, and a sync only records itself."""
    overview, nums = main_window_module._overview, main_window_module._nums
    jobs: list[str] = []

    def record(name: str, result: Any) -> Any:
        jobs.append(name)
        return result

    monkeypatch.setattr(main_window_module, "_overview",
                        lambda ctx: record("overview", overview(ctx)))
    monkeypatch.setattr(main_window_module, "_nums",
                        lambda ctx, flt: record("nums", nums(ctx, flt)))
    monkeypatch.setattr(sync_module, "_status", lambda _ctx: record("status", ENROLLED))
    monkeypatch.setattr(sync_module.SyncController, "sync_now",
                        lambda _self: jobs.append("sync"))
    return jobs


def test_the_status_is_read_after_the_first_list_query_then_one_sync(
        startup: list[str], qtbot: Any, window: MainWindow) -> None:
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: "sync" in startup)
    assert startup.index("overview") < startup.index("nums") < startup.index("status")
    assert startup.count("status") == 1
    assert startup.index("sync") > startup.index("status")
    assert window.sync_label.text() == "Online"
    window.refresh_overview()  # later overviews re-read the status, without a sync
    wait_idle(qtbot, window)
    assert startup.count("status") == 2 and startup.count("sync") == 1


def test_a_decision_reloads_the_review_once_and_reads_the_status_once(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    reloads: list[int] = []
    reload, status = ConflictDialog.reload, sync_module._status
    statuses: list[int] = []

    def counted_reload(self: ConflictDialog) -> None:
        reloads.append(1)
        reload(self)

    def counted_status(ctx: Any) -> Any:
        statuses.append(1)
        return status(ctx)

    monkeypatch.setattr(ConflictDialog, "reload", counted_reload)
    monkeypatch.setattr(sync_module, "_status", counted_status)
    dialog = window.sync.open_conflicts()
    wait_idle(qtbot, window)
    reloads.clear()
    statuses.clear()
    refreshed = window.refreshed
    with qtbot.waitSignal(refreshed, timeout=10_000):
        dialog._resolved("rev")  # as when a decision was stored
    wait_idle(qtbot, window)
    assert reloads == [1]
    assert statuses == [1]  # the window's overview reads it; not enrolled, so no sync
    dialog.close()


def _conflict(conflict_id: str) -> ConflictItem:
    candidates = [
        {"rev": f"{conflict_id}-1", "device": "aaaaaaaa1111", "hlc": "1",
         "at": "2024-03-17T09:00:00Z", "value": "Школа № 1", "mine": True},
        {"rev": f"{conflict_id}-2", "device": "bbbbbbbb2222", "hlc": "2",
         "at": "2024-03-17T10:00:00Z", "value": "Школа № 2", "mine": False},
    ]
    return ConflictItem(ConflictView(conflict_id, "station", f"{conflict_id}-record", "name",
                                     "", f"{conflict_id}-2", candidates))


def test_loading_conflicts_shows_the_chosen_one_once(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[int] = []
    show = ConflictDialog._show

    def counted_show(self: ConflictDialog, row: int) -> None:
        shown.append(row)
        show(self, row)

    monkeypatch.setattr(ConflictDialog, "_show", counted_show)
    dialog = ConflictDialog(window.storage, window.language)
    qtbot.addWidget(dialog)
    shown.clear()  # the empty detail it starts with
    items = [_conflict("c1"), _conflict("c2")]
    dialog._loaded(items)
    assert shown == [0]  # once, not again through the list's signal
    dialog.list.setCurrentRow(1)  # the user's choice: shown through the signal
    assert shown == [0, 1]
    shown.clear()
    dialog._loaded(items)  # reloaded: the chosen conflict stays chosen, shown once
    assert shown == [1] and dialog.current() is items[1]
    assert dialog.table.columnCount() == 2
    shown.clear()
    dialog._loaded([])
    assert shown == [-1] and dialog.table.columnCount() == 0
    dialog.close()


def test_the_review_closes_on_escape(qtbot: Any, window: MainWindow) -> None:
    dialog = window.sync.open_conflicts()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()  # as a window manager does; else the window's Esc applies
    qtbot.waitUntil(dialog.isActiveWindow)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # QDialog's own handling
    assert not dialog.isVisible()
    wait_idle(qtbot, window)


def test_the_protocol_photo_is_decoded_on_the_image_worker(
        qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    decode = protocols.read_photo

    def spy(path: Any) -> Any:
        threads.append(QThread.currentThread().objectName())
        return decode(path)

    monkeypatch.setattr(protocols, "read_photo", spy)
    entry = open_entry(qtbot, window)
    entry.open_photo(PHOTO)
    qtbot.waitUntil(lambda: entry.photo.item is not None, timeout=10_000)
    assert threads == [window.images._thread.objectName()] == ["kua-images"]
    entry.close()


def test_an_open_protocol_window_follows_the_language(
        qtbot: Any, window: MainWindow) -> None:
    entry = open_entry(qtbot, window)
    lines = entry.profile.lines
    assert any(line.label("ru") != line.label("en") for line in lines)
    switch(qtbot, window, "ru")
    catalogue = load_catalogue("ru")
    assert entry.lang == "ru"
    assert [entry.line_labels[line.id].text() for line in lines] == [
        line.label("ru") for line in lines]
    assert entry.checks.count() and all(
        entry.checks.item(i).text().startswith(catalogue["not yet known"])
        for i in range(entry.checks.count()))
    assert entry.source.itemText(entry.source.findData("posted")) == catalogue["Posted copy"]
    switch(qtbot, window, "en")
    assert entry.line_labels[lines[0].id].text() == lines[0].label("en")
    entry.close()


def test_source_names_and_the_discrepancies_language(qtbot: Any, window: MainWindow) -> None:
    window.actions["forensics"].trigger()
    forensics = window.forensics  # type: ignore[attr-defined]
    found = window.open_discrepancies()
    qtbot.waitUntil(lambda: found.loaded and forensics.data is not None, timeout=10_000)
    assert found.language is window.language
    for lang in ("en", "ru"):
        if lang != "en":
            switch(qtbot, window, lang)
        names = {k: load_catalogue(lang).get(v, v) for k, v in SOURCE_NAMES.items()}
        assert {protocols.source_name(k) for k in names} == set(names.values())
        for combo in (forensics.source, found.source):
            assert {str(combo.itemData(i)): combo.itemText(i)
                    for i in range(combo.count())} == {
                str(combo.itemData(i)): names[str(combo.itemData(i))]
                for i in range(combo.count())}
    assert protocols.source_name("unknown") == "unknown"
    wait_idle(qtbot, window)
    forensics.close()
    found.close()
