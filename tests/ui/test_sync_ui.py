"""Sync from the window, against a real team server (uvicorn in a subprocess on loopback):
enrolment, changes both ways, a conflict decided in the review dialog, evidence still on its
way, the offline state with its retry schedule, and a window that stays responsive."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from app.incidents import (
    IncidentDraft,
    IncidentFilter,
    add_incident,
    edit_incident,
    get_incident,
    list_incidents,
)
from app.server.admin import add_device, create_team
from app.store import Store
from app.sync.client import enrol, sync_once
from app.sync.conflicts import list_conflicts
from tests.sync_helpers import attach_bytes, running_server
from tests.ui.conftest import REPORTS, Messages, wait_idle
from tests.ui.test_main_window import shortcut
from ui.main_window import MainWindow
from ui.sync import RETRY_CAP_S, SYNC_INTERVAL_S, SyncController, retry_delay


class Server:
    def __init__(self, url: str, db: str) -> None:
        self.url, self.db = url, db
        self._teams = 0

    def codes(self, *devices: str) -> dict[str, str]:
        """A new team and a one-time enrolment code for each device label."""
        self._teams += 1
        name = f"ui-team-{self._teams}-{time.monotonic_ns()}"
        create_team(self.db, name)
        return {d: add_device(self.db, name, d).code for d in devices}


@contextmanager
def own_server(root: Path) -> Iterator[tuple[Server, subprocess.Popen[bytes]]]:
    db = f"sqlite:///{root / 'server.db'}"
    with running_server(root, db) as (url, proc):
        yield Server(url, db), proc


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with own_server(tmp_path_factory.mktemp("ui-server")) as (srv, _proc):
        yield srv


def controller(window: MainWindow) -> SyncController:
    return window.sync.controller


def enrol_window(qtbot: Any, window: MainWindow, url: str, code: str) -> None:
    """Through the controller (the dialog has its own test); waits for the first sync."""
    ctl = controller(window)
    with qtbot.waitSignal(ctl.finished, timeout=20_000) as first:
        ctl.enrol(url, code, lambda _team: None, pytest.fail)
    assert first.args == [True]


def second_laptop(tmp_path: Path, url: str, code: str) -> Store:
    store = Store(tmp_path / "second")
    enrol(store, url, code)
    sync_once(store)  # the first laptop's stations and incidents
    return store


def shown_descriptions(window: MainWindow) -> set[str]:
    rows = window.incidents.rowCount()
    texts = [window.incidents.index(r, 6).data() for r in range(rows)]
    return {t for t in texts if t}


# --- the schedule, as data ----------------------------------------------------------------


def test_retry_schedule_doubles_from_15_s_up_to_5_minutes() -> None:
    assert [retry_delay(n) for n in range(9)] == [
        SYNC_INTERVAL_S, 15, 30, 60, 120, 240, 300, 300, 300]
    assert retry_delay(1000) == RETRY_CAP_S == 300
    assert SYNC_INTERVAL_S == 180


# --- not connected ------------------------------------------------------------------------


def test_without_a_server_the_window_says_offline_and_f9_offers_to_connect(
        qtbot: Any, window: MainWindow, messages: Messages) -> None:
    qtbot.waitUntil(lambda: window.sync.pending_label.isHidden())
    assert window.sync_label.text() == "Offline"
    assert "not set up" in window.sync_label.toolTip()
    assert not controller(window).timer.isActive()  # nothing to retry
    shortcut(qtbot, window, "F9")
    dialog = window.sync.connect_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.server.setText("team.example.org")
    dialog.submit()
    assert "https://" in dialog.message.text()
    dialog.close()
    assert "F9, Ctrl+Shift+S" in dict(window.show_shortcuts().rows())
    assert messages.told == []


def test_the_team_snapshot_download_counts_megabytes_in_the_interface_language(
        window: MainWindow) -> None:
    """The status bar's progress while an empty laptop downloads the team snapshot (bytes)."""
    panel = window.sync
    assert panel._progress_text(("snapshot", 3 << 20, 17 << 20)) == (
        "Receiving the team's records: 3/17 MB")
    window.language.switch("ru")
    try:
        assert panel._progress_text(("snapshot", 3 << 20, 17 << 20)) == (
            "Получение записей команды: 3/17 МБ")
        assert panel._progress_text(("pull", 200, 1000)) == "Получение изменений: 200/1000"
    finally:
        window.language.switch("en")


# --- the whole round: enrol, up, down, conflict -------------------------------------------


def test_enrol_sync_both_ways_and_decide_a_conflict(
        qtbot: Any, window: MainWindow, server: Server, tmp_path: Path,
        messages: Messages) -> None:
    codes = server.codes("this", "second")
    sync = window.sync
    # Enrolment through the dialog: a wrong code is explained, the right one connects.
    window.actions["connect"].trigger()
    dialog = sync.connect_dialog
    assert dialog is not None
    dialog.server.setText(server.url)
    dialog.code.setText("AAAA-BBBB-CCCC-DDDD")
    dialog.submit()
    qtbot.waitUntil(lambda: "not valid" in dialog.message.text(), timeout=10_000)
    assert dialog.isVisible() and dialog.connect_button.isEnabled()
    dialog.code.setText(codes["this"])
    with qtbot.waitSignal(dialog.enrolled, timeout=10_000):
        dialog.submit()
    assert not dialog.isVisible()
    # The first sync sends everything: nothing left to send, online, a last-sync time.
    qtbot.waitUntil(lambda: sync.pending_label.text() == "To send: 0"
                    and controller(window).state.last_sync is not None, timeout=20_000)
    assert window.sync_label.text() == "Online"
    assert sync.last_label.text().startswith("Last sync: ")
    assert controller(window).timer.isActive()  # the next background sync is scheduled
    assert controller(window).timer.remainingTime() > (SYNC_INTERVAL_S - 10) * 1000

    # A local edit waits in the outbox, and F9 sends it.
    with qtbot.waitSignal(window.evidence.model.modelReset, timeout=5_000):
        window.table.setCurrentIndex(window.incidents.index(0, 0))
    qtbot.waitUntil(lambda: window.editor.current is not None)
    edited = window.editor.current
    assert edited is not None
    window.editor.description.setPlainText("Исправлено на этом ноутбуке")
    with qtbot.waitSignal(window.editor.saved, timeout=10_000):
        window.editor.save()
    qtbot.waitUntil(lambda: sync.pending_label.text() == "To send: 1", timeout=10_000)
    window.activateWindow()  # back from the dialog: the window's shortcuts apply again
    qtbot.waitUntil(window.isActiveWindow)
    with qtbot.waitSignal(controller(window).finished, timeout=20_000):
        shortcut(qtbot, window, "Ctrl+Shift+S")
    qtbot.waitUntil(lambda: sync.pending_label.text() == "To send: 0", timeout=10_000)

    # A second laptop's new incident comes down and appears in the list.
    second = second_laptop(tmp_path, server.url, codes["second"])
    try:
        assert get_incident(second, edited.id).description == "Исправлено на этом ноутбуке"
        add_incident(second, IncidentDraft(
            station_code="75-002", category="vote_buying",
            observed_at=datetime(2024, 3, 17, 12, 0, tzinfo=UTC),
            description="Со второго ноутбука"))
        sync_once(second)
        window.sync.sync_now()
        qtbot.waitUntil(lambda: window.incidents.rowCount() == len(REPORTS) + 1,
                        timeout=20_000)
        qtbot.waitUntil(lambda: "Со второго ноутбука" in shown_descriptions(window))
        qtbot.waitUntil(lambda: window.counts is not None
                        and window.counts.incidents == len(REPORTS) + 1)

        # The same field changed on both: a conflict, reviewed and decided for theirs.
        target = edited.id
        window.storage.submit(lambda ctx: edit_incident(ctx.store, target,
                                                        description="Версия этого ноутбука"))
        edit_incident(second, target, description="Версия второго ноутбука")
        sync_once(second)
        window.sync.sync_now()
        qtbot.waitUntil(lambda: sync.conflicts_button.isVisible(), timeout=20_000)
        assert sync.conflicts_button.text() == "Conflicts: 1"
        sync.conflicts_button.click()
        review = sync.conflict_dialog
        assert review is not None and review.isVisible()
        qtbot.waitUntil(lambda: review.list.count() == 1, timeout=10_000)
        assert "Description changed on two laptops" in review.list.item(0).text()
        table = review.table
        headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
        values = [table.item(0, c).text() for c in range(table.columnCount())]
        assert values == ["Версия этого ноутбука", "Версия второго ноутбука"]
        assert headers[0].endswith("This laptop") and headers[1].endswith("Laptop " +
                                                                         headers[1][-8:])
        assert sum(h.startswith("★ ") for h in headers) == 1  # the provisional winner
        assert table.item(1, 0).text() == "this laptop"
        assert table.item(2, 1).text()  # when
        assert review.keep_mine.isEnabled() and review.take_theirs.isEnabled()
        with qtbot.waitSignal(review.resolved, timeout=10_000):
            review.take_theirs.click()
        qtbot.waitUntil(lambda: review.list.count() == 0, timeout=10_000)
        assert "No open conflicts" in review.empty.text()
        qtbot.waitUntil(lambda: "Версия второго ноутбука" in shown_descriptions(window),
                        timeout=10_000)
        qtbot.waitUntil(lambda: window.editor.description.toPlainText()
                        == "Версия второго ноутбука", timeout=10_000)
        qtbot.waitUntil(lambda: not sync.conflicts_button.isVisible()
                        and sync.pending_label.text() == "To send: 0"
                        and not controller(window).syncing, timeout=20_000)
        review.close()
        # The decision went to the team: the second laptop agrees and has no conflict.
        sync_once(second)
        assert get_incident(second, target).description == "Версия второго ноутбука"
        assert list_conflicts(second) == []
    finally:
        second.close()
    wait_idle(qtbot, window)
    assert messages.told == []


# --- evidence that has not arrived yet --------------------------------------------------------


def test_evidence_not_yet_arrived_shows_as_pending_not_as_an_error(
        qtbot: Any, window: MainWindow, server: Server, tmp_path: Path,
        messages: Messages) -> None:
    codes = server.codes("this", "second")
    enrol_window(qtbot, window, server.url, codes["this"])
    second = second_laptop(tmp_path, server.url, codes["second"])
    try:
        incident = list_incidents(second, IncidentFilter())[0]
        digest = attach_bytes(second, incident.id, b"not uploaded yet", "protocol.jpg")
        second.blobs.path(digest).unlink()  # its bytes never left that laptop
        sync_once(second)
    finally:
        second.close()
    with qtbot.waitSignal(controller(window).finished, timeout=20_000):
        window.sync.sync_now()
    state = controller(window).state
    assert state.evidence_pending == 1
    assert "Evidence pending: 1" in window.sync.pending_label.text()
    row = next(r for r in range(window.incidents.rowCount())
               if window.incidents.index(r, 6).data() == incident.description)
    with qtbot.waitSignal(window.evidence.model.modelReset, timeout=5_000):
        window.table.setCurrentIndex(window.incidents.index(row, 0))
    model = window.evidence.model
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    model.index(0, 0).data(1)  # DecorationRole: asks for the thumbnail
    qtbot.waitUntil(lambda: model.is_pending(digest), timeout=5_000)
    assert model.index(0, 0).data() == "Evidence pending"
    assert "protocol.jpg" in model.index(0, 0).data(3)  # tooltip keeps the file's name
    assert not model.index(0, 0).data(1).isNull()  # a placeholder tile, not a blank
    viewer = window.evidence.open_viewer(model.evidence_at(0))
    assert viewer.status.text().startswith("Evidence pending")
    viewer.close()
    wait_idle(qtbot, window)
    assert messages.told == []


# --- offline ----------------------------------------------------------------------------------


def test_server_gone_shows_offline_and_retries_with_backoff(
        qtbot: Any, window: MainWindow, tmp_path: Path, messages: Messages) -> None:
    ctl = controller(window)
    with own_server(tmp_path / "own-server") as (srv, proc):
        enrol_window(qtbot, window, srv.url, srv.codes("this")["this"])
        assert window.sync_label.text() == "Online"
        proc.terminate()
        proc.wait(20)
    for failures, delay in ((1, 15), (2, 30), (3, 60)):
        with qtbot.waitSignal(ctl.finished, timeout=20_000) as attempt:
            ctl.sync_now()
        assert attempt.args == [False]
        assert ctl.state.failures == failures and not ctl.state.online
        # The retry is scheduled by the timer alone: no new local edit is needed.
        assert ctl.timer.isActive() and ctl.timer.interval() == delay * 1000
    assert window.sync_label.text() == "Offline"
    tip = window.sync_label.toolTip()
    assert "Cannot reach the team server" in tip and "Next attempt in" in tip
    assert window.sync.pending_label.text() == "To send: 0"  # what waits is still counted
    assert messages.told == []  # offline is a state, not an error message


# --- responsiveness -------------------------------------------------------------------------


def test_the_window_stays_responsive_during_a_long_sync(
        qtbot: Any, window: MainWindow, server: Server, tmp_path: Path) -> None:
    enrol_window(qtbot, window, server.url, server.codes("this")["this"])
    with Store(window.data_dir) as store:  # a large evidence file to upload (24 chunks)
        first = list_incidents(store, IncidentFilter())[0]
        attach_bytes(store, first.id, os.urandom(24 * 1024 * 1024), "video.mp4")
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.append(time.monotonic()))
    heartbeat.start()
    try:
        with qtbot.waitSignal(controller(window).finished, timeout=40_000) as done:
            start = time.monotonic()
            window.sync.sync_now()
        took = time.monotonic() - start
    finally:
        heartbeat.stop()
    assert done.args == [True]
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert len(beats) >= max(5, int(took / 0.010 / 4)), (len(beats), took)
    assert max(gaps, default=0) < 0.25, max(gaps)
    report = controller(window).last_report
    assert report is not None and report.uploaded == 1
    assert controller(window).state.pending == 0
    print(f"sync of 24 MB: {took:.2f} s, {len(beats)} heartbeats, longest gap "
          f"{max(gaps) * 1000:.0f} ms")
