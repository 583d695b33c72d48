"""Start-up: Qt application, bundled font, workers, then the first-run wizard or the window."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

from app.paths import FONTS_DIR
from app.profile import UserSettings
from app.store import Store
from ui import dialogs, errors
from ui.first_run import FirstRunChoice, FirstRunWizard
from ui.i18n import Language, system_language
from ui.main_window import MainWindow
from ui.worker import JobContext, Worker

FONT_FILES = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf")


def install_font(app: QApplication) -> str | None:
    """Register the bundled Noto Sans (it covers Ә Ғ Қ Ң Ө Ұ Ү Һ І) and make it the app font,
    so Kazakh renders even on a machine without such system fonts. Returns the family."""
    family = None
    for name in FONT_FILES:
        font_id = QFontDatabase.addApplicationFont(str(FONTS_DIR / name))
        if font_id >= 0 and family is None:
            family = QFontDatabase.applicationFontFamilies(font_id)[0]
    if family is not None:
        font = QFont(family)
        font.setPointSizeF(max(app.font().pointSizeF(), 10.0))
        app.setFont(font)
    return family


def _settings(ctx: JobContext) -> UserSettings:
    from app.profile import user_settings

    return user_settings(ctx.store)


def _apply_first_run(ctx: JobContext, choice: FirstRunChoice) -> None:
    """Store the wizard's choices; the station list last, so a bad file loses nothing else."""
    from app import profile
    from app.elections import create_election, import_stations

    profile.set_language(ctx.store, choice.language)
    profile.set_applicant(ctx.store, choice.applicant)
    if choice.join:  # the election and its stations come with the first sync
        return
    if choice.demo:
        from app.demo import make_demo

        make_demo(ctx.store)
        return
    create_election(ctx.store, choice.election_name, choice.election_date)
    if choice.stations_csv is not None:
        import_stations(ctx.store, choice.stations_csv)


class KuaApp(QObject):
    """One data folder open in the desktop app."""

    window_shown = Signal(object)  # MainWindow
    wizard_shown = Signal(object)  # FirstRunWizard

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.language = Language(self)
        self.storage = Worker("storage", open_store=lambda: Store(data_dir))
        self.images = Worker("images", share_store_of=self.storage)
        self.window: MainWindow | None = None
        self.wizard: FirstRunWizard | None = None

    def start(self) -> None:
        self.storage.submit(_settings, self._settings_arrived, self._cannot_open)

    def _cannot_open(self, exc: BaseException) -> None:
        found = errors.explain(exc, self.data_dir)
        dialogs.fatal(found.title, found.text, found.details)
        QApplication.quit()

    def _settings_arrived(self, settings: UserSettings) -> None:
        self.language.switch(settings.language or system_language())
        if settings.language is None or not settings.applicant.complete \
                or not (settings.has_election or settings.joined_team):
            self.wizard = FirstRunWizard(self.language, settings.applicant)
            self.wizard.chosen.connect(self._first_run_done)
            self.wizard.rejected.connect(QApplication.quit)
            self.wizard.show()
            self.wizard_shown.emit(self.wizard)
        else:
            self.show_window()

    def _first_run_done(self, choice: FirstRunChoice) -> None:
        # Queued before the window's own queries, so the window opens on the stored choices.
        self.storage.submit(lambda ctx: _apply_first_run(ctx, choice), self._first_run_stored)
        window = self.show_window()
        if choice.demo:
            window.statusBar().showMessage(window.tr("Loading the demo election…"))
        if choice.join:
            window.sync.open_connect()

    def _first_run_stored(self, _result: None) -> None:
        if self.window is not None:
            self.window.statusBar().clearMessage()

    def show_window(self) -> MainWindow:
        self.window = MainWindow(self.storage, self.images, self.language, self.data_dir)
        self.window.refreshed.connect(self._warm_up, Qt.ConnectionType.SingleShotConnection)
        self.window.show()
        self.window_shown.emit(self.window)
        return self.window

    def _warm_up(self) -> None:
        """Load the imaging libraries once the first rows are on screen. Their first import
        holds Python's lock for ~50-70 ms (native library set-up); done here, that pause
        falls before the user starts working rather than in the middle of the first import."""
        self.storage.submit(lambda _ctx: importlib.import_module("app.evidence"))

    def close(self) -> None:
        """Finish the running jobs and close the store (the image worker uses it, so first)."""
        if self.window is not None:
            self.window.sync.close_sync()
        self.images.close()
        self.storage.close()


def run(data_dir: Path) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Kuä")
    app.setOrganizationName("Kuä")
    install_font(app)
    errors.install(data_dir)
    kua = KuaApp(data_dir)
    app.aboutToQuit.connect(kua.close)
    kua.start()
    return app.exec()
