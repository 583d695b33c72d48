"""UI fixtures: a prepared store, the running app on it, and recorded (never modal) dialogs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app import profile
from app.elections import import_stations
from app.incidents import IncidentDraft, add_incident
from app.store import Store
from tests.conftest import FIXTURES
from ui import dialogs, errors
from ui.application import KuaApp, install_font
from ui.main_window import MainWindow

ALMATY = timezone(timedelta(hours=6))


@dataclass
class Messages:
    """What the app told or asked the user; ask() answers with `answer`."""

    told: list[tuple[dialogs.Kind, str, str]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # one per told message ("" if none)
    asked: list[str] = field(default_factory=list)
    answer: bool = True
    files: list[Path] = field(default_factory=list)
    save_files: list[Path] = field(default_factory=list)  # answers to "save as", in order
    folders: list[Path] = field(default_factory=list)  # answers to "choose a folder"

    def texts(self) -> str:
        return "\n".join(f"{title}: {text}" for _kind, title, text in self.told)


@pytest.fixture
def messages(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Messages:
    rec = Messages()

    def tell(_parent: Any, kind: dialogs.Kind, title: str, text: str, details: str = "") -> None:
        rec.told.append((kind, title, text))
        rec.details.append(details)

    def ask(_parent: Any, title: str, text: str) -> bool:
        rec.asked.append(text)
        return rec.answer

    def fatal(title: str, text: str, details: str = "") -> None:
        rec.told.append((dialogs.Kind.ERROR, title, text))
        rec.details.append(details)

    monkeypatch.setattr(dialogs, "tell", tell)
    monkeypatch.setattr(dialogs, "ask", ask)
    monkeypatch.setattr(dialogs, "fatal", fatal)
    monkeypatch.setattr(dialogs, "choose_files", lambda *_a: list(rec.files))
    monkeypatch.setattr(dialogs, "choose_file", lambda *_a: rec.files[0] if rec.files else None)
    monkeypatch.setattr(dialogs, "choose_save_file",
                        lambda *_a: rec.save_files.pop(0) if rec.save_files else None)
    monkeypatch.setattr(dialogs, "choose_folder",
                        lambda *_a: rec.folders.pop(0) if rec.folders else None)
    monkeypatch.setattr(errors, "_data_dir", data_dir)
    return rec


REPORTS = [
    ("75-001", "ballot_stuffing", "Член УИК опустил в урну пачку бюллетеней", "Иван Петров"),
    ("75-002", "observer_obstruction", "Байқаушыға суретке түсіруге тыйым салды",
     "Әсел Жақсылықова"),
    ("75-003", "vote_buying", "Раздают продуктовые наборы у входа, ЁЛКА", "Мария Ким"),
    ("75-001", "campaigning", "Қабырғада үгіт плакаты ілулі тұр", "Нұрлан Әбенов"),
]


def fill_store(data_dir: Path, lang: str = "en") -> None:
    """A store as after the first run: stations of Almaty, four incidents, a profile."""
    with Store(data_dir) as store:
        import_stations(store, FIXTURES / "stations" / "almaty.csv")
        profile.set_language(store, lang)
        profile.set_applicant(store, profile.Applicant("Сейітқызы Айгерім", "observer"))
        start = datetime(2024, 3, 17, 9, 0, tzinfo=ALMATY)
        for n, (code, category, text, reporter) in enumerate(REPORTS):
            add_incident(store, IncidentDraft(
                station_code=code, category=category, observed_at=start + timedelta(hours=n),
                description=text, reporter=reporter))


@pytest.fixture
def filled_dir(data_dir: Path) -> Path:
    fill_store(data_dir)
    return data_dir


@pytest.fixture
def kua(qtbot: Any, filled_dir: Path, messages: Messages) -> Iterator[KuaApp]:
    """The app started on a filled store; its window is shown and has its first rows."""
    from PySide6.QtWidgets import QApplication

    install_font(QApplication.instance())
    app = KuaApp(filled_dir)
    with qtbot.waitSignal(app.window_shown, timeout=10_000):
        app.start()
    window = app.window
    assert window is not None
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.incidents.rowCount() == len(REPORTS), timeout=10_000)
    qtbot.waitUntil(lambda: window.counts is not None, timeout=10_000)
    yield app
    messages.answer = True  # closing must not wait on an unsaved-changes question
    window.close()
    app.close()
    app.language.switch("en")


@pytest.fixture
def window(kua: KuaApp) -> MainWindow:
    assert kua.window is not None
    return kua.window


def wait_idle(qtbot: Any, window: MainWindow) -> None:
    """Until the storage worker has delivered everything asked of it so far."""
    qtbot.waitUntil(lambda: not window.storage.busy and not window.images.busy, timeout=20_000)


def type_text(widget: Any, text: str) -> None:
    """Type text into a widget key by key. QTest.keyClicks only knows ASCII (it aborts on
    Cyrillic), so other letters are sent as key events carrying their text, as a keyboard
    layout would."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    for ch in text:
        if ch.isascii():
            QTest.keyClicks(widget, ch)
            continue
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(
                widget, QKeyEvent(kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, ch))
