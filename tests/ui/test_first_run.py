"""A fresh data folder starts with the first-run wizard; its choices are stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from app import profile
from app.elections import get_current_election, list_stations
from app.server.admin import add_device, create_team
from app.store import Store
from app.sync.client import enrol, sync_once
from tests.conftest import FIXTURES
from tests.sync_helpers import incident, laptop, running_server, wait_for_snapshot
from tests.ui.conftest import Messages
from ui.application import KuaApp
from ui.first_run import FirstRunWizard


def wizard_at_election(qtbot: Any, app: KuaApp, language: str = "en") -> FirstRunWizard:
    """Start app on an empty folder and go through the wizard up to its election page."""
    with qtbot.waitSignal(app.wizard_shown, timeout=10_000) as shown:
        app.start()
    wizard: FirstRunWizard = shown.args[0]
    qtbot.addWidget(wizard)
    if language == "kk":
        wizard.language_page.button_kk.setChecked(True)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: wizard.language_page.title() == "Kuä-ға қош келдіңіз")
    wizard.next()
    page = wizard.profile_page
    page.full_name.setText("Сейітқызы Айгерім")
    page.status.setCurrentIndex(page.status.findData("proxy"))
    page.organization.setText("Адал сайлау")
    page.phone.setText("+7 701 000 00 00")
    wizard.next()
    return wizard


def test_first_run_then_main_window(qtbot: Any, data_dir: Path, messages: Messages) -> None:
    app = KuaApp(data_dir)
    try:
        wizard = wizard_at_election(qtbot, app, "kk")
        election = wizard.election_page
        election.name.setText("Мәслихат сайлауы")
        election.csv.setText(str(FIXTURES / "stations" / "almaty.csv"))
        with qtbot.waitSignal(app.window_shown, timeout=10_000):
            wizard.accept()
        window = app.window
        assert window is not None
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: window.stations.rowCount() == 16, timeout=10_000)
        assert window.language.current == "kk"
    finally:
        if app.window is not None:
            app.window.close()
        app.close()
        app.language.switch("en")
    with Store(data_dir) as store:
        assert profile.get_language(store) == "kk"
        applicant = profile.get_applicant(store)
        assert (applicant.full_name, applicant.status) == ("Сейітқызы Айгерім", "proxy")
        current = get_current_election(store)
        assert current is not None and current.name == "Мәслихат сайлауы"
        assert len(list_stations(store)) == 15
    assert messages.told == []


def test_joining_a_team_brings_its_election_from_the_snapshot(
        qtbot: Any, data_dir: Path, tmp_path: Path, messages: Messages) -> None:
    """A team lead who joins a team creates no election: the connect dialog opens, and the
    first sync brings the team's election, stations and incidents (from the server's snapshot,
    as the laptop is empty)."""
    db = f"sqlite:///{tmp_path / 'server.db'}"
    with running_server(tmp_path / "server", db, "--snapshot-step", "5") as (url, _proc):
        create_team(db, "Адал")
        other = laptop(tmp_path, "other")
        try:
            incident(other, "Вброс бюллетеней у урны")
            enrol(other, url, add_device(db, "Адал", "other").code)
            sync_once(other)
            wait_for_snapshot(url, other, step=5)
        finally:
            other.close()
        app = KuaApp(data_dir)
        try:
            wizard = wizard_at_election(qtbot, app)
            wizard.election_page.join.setChecked(True)
            assert wizard.election_page.isComplete()  # no election name wanted
            with qtbot.waitSignal(app.window_shown, timeout=10_000):
                wizard.accept()
            window = app.window
            assert window is not None
            qtbot.addWidget(window)
            dialog = window.sync.connect_dialog
            assert dialog is not None and dialog.isVisible()
            dialog.server.setText(url)
            dialog.code.setText(add_device(db, "Адал", "me").code)
            with qtbot.waitSignal(dialog.enrolled, timeout=10_000):
                dialog.submit()
            qtbot.waitUntil(lambda: window.stations.rowCount() == 4, timeout=30_000)
            qtbot.waitUntil(lambda: window.incidents.rowCount() == 1, timeout=10_000)
        finally:
            if app.window is not None:
                app.window.close()
            app.close()
    with Store(data_dir) as store:
        current = get_current_election(store)
        assert current is not None and current.name == "Президентские выборы"
    db_file = sqlite3.connect(data_dir / "kua.db")
    details = [json.loads(d) for (d,) in db_file.execute("SELECT detail FROM audit_event")]
    db_file.close()
    assert any("snapshot" in d for d in details)
    assert messages.told == []
    # Next start: straight into the window, no wizard.
    again = KuaApp(data_dir)
    try:
        with qtbot.waitSignal(again.window_shown, timeout=10_000):
            again.start()
        assert again.wizard is None
    finally:
        if again.window is not None:
            again.window.close()
        again.close()


def test_existing_store_opens_the_window_directly(kua: KuaApp) -> None:
    assert kua.wizard is None and kua.window is not None


def test_unusable_data_folder_is_explained(qtbot: Any, tmp_path: Path,
                                           messages: Messages) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    app = KuaApp(blocker)
    try:
        app.start()
        qtbot.waitUntil(lambda: bool(messages.told), timeout=10_000)
    finally:
        app.close()
    assert str(blocker) in messages.texts()
