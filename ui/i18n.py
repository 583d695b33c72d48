"""Interface language: our catalogues (ui/i18n/LANG.json) plus Qt's own for its built-in texts.

A catalogue maps each English source string, as written in tr()/translate() calls, to its
translation. Keys are looked up without the Qt context, so a string moved between classes keeps
its translation; tests/ui/test_i18n.py fails when a catalogue misses a source string. JSON needs
no build step, and a team member can correct a translation in any text editor.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QObject, QTranslator, Signal

from app.taxonomy import LANGS

CATALOGUES = Path(__file__).parent / "i18n"
SOURCE_LANG = "en"

# Shown in the Language menu in the language itself, so anyone can find their own.
NATIVE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}


def load_catalogue(lang: str) -> dict[str, str]:
    if lang == SOURCE_LANG:
        return {}
    with open(CATALOGUES / f"{lang}.json", encoding="utf-8") as f:
        data = json.load(f)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def system_language() -> str:
    """The system locale's language when we have it; Russian for other CIS locales (the
    language observers there share), English otherwise."""
    locale = QLocale.system()
    name = locale.name().split("_")[0]
    if name in LANGS:
        return name
    if locale.territory() in (QLocale.Country.Kazakhstan, QLocale.Country.Kyrgyzstan,
                              QLocale.Country.Belarus, QLocale.Country.Russia):
        return "ru"
    return SOURCE_LANG


class CatalogueTranslator(QTranslator):
    def __init__(self, lang: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lang = lang
        self._messages = load_catalogue(lang)

    def translate(  # type: ignore[override]
        self, context: str, source_text: str, disambiguation: str | None = None, n: int = -1
    ) -> str | None:
        # None, not "": an empty string would count as a translation and blank the text.
        return self._messages.get(source_text)

    def isEmpty(self) -> bool:
        return not self._messages


class Language(QObject):
    """The current interface language. Switching installs the translators, which makes Qt send
    every widget a LanguageChange event; each window retranslates itself in changeEvent."""

    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current = SOURCE_LANG
        self._installed: list[QTranslator] = []

    def switch(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}")
        app = QCoreApplication.instance()
        for t in self._installed:
            app.removeTranslator(t)
        self._installed = []
        if lang != SOURCE_LANG:
            qt = QTranslator(self)
            qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
            if qt.load(f"qtbase_{lang}", qt_dir):
                self._installed.append(qt)
            self._installed.append(CatalogueTranslator(lang, self))
        for t in self._installed:
            app.installTranslator(t)
        QLocale.setDefault(QLocale(lang))
        changed = lang != self.current
        self.current = lang
        if changed:
            self.changed.emit(lang)
