"""A fresh data folder starts with the first-run wizard; its choices are stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import profile
from app.elections import get_current_election, list_stations
from app.store import Store
from tests.conftest import FIXTURES
from tests.ui.conftest import Messages
from ui.application import KuaApp
from ui.first_run import FirstRunWizard


def test_first_run_then_main_window(qtbot: Any, data_dir: Path, messages: Messages) -> None:
    app = KuaApp(data_dir)
    try:
        with qtbot.waitSignal(app.wizard_shown, timeout=10_000) as shown:
            app.start()
        wizard: FirstRunWizard = shown.args[0]
        qtbot.addWidget(wizard)
        wizard.language_page.button_kk.setChecked(True)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: wizard.language_page.title() == "Kuä-ға қош келдіңіз")
        wizard.next()
        page = wizard.profile_page
        page.full_name.setText("Сейітқызы Айгерім")
        page.status.setCurrentIndex(page.status.findData("proxy"))
        page.organization.setText("Адал сайлау")
        page.phone.setText("+7 701 000 00 00")
        wizard.next()
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
