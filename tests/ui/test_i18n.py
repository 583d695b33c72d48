"""Translations: complete catalogues, placeholders kept, the language switchable at run time."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app import profile
from app.store import Store
from tests.ui.conftest import wait_idle
from ui.i18n import CATALOGUES, load_catalogue
from ui.main_window import MainWindow

UI = Path(__file__).parents[2] / "ui"
KAZAKH_LETTERS = set("ӘәҒғҚқҢңӨөҰұҮүҺһІі")


def source_strings() -> set[str]:
    """Every literal passed to self.tr(...) or QCoreApplication.translate(ctx, ...) in ui/."""
    found: set[str] = set()
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            position = {"tr": 0, "translate": 1, "_tr": 0}.get(name)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                f"{path.name}:{node.lineno}: {name}() needs a string literal to be translatable")
            found.add(arg.value)
    return found


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_sources_found() -> None:
    strings = source_strings()
    assert "&File" in strings and "New incident" in strings
    assert len(strings) > 100


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_catalogue_is_complete(lang: str) -> None:
    catalogue = load_catalogue(lang)
    missing = sorted(source_strings() - set(catalogue))
    assert not missing, f"{lang}.json misses {len(missing)} strings: {missing}"


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_catalogue_has_no_stale_or_untranslated_entries(lang: str) -> None:
    catalogue = load_catalogue(lang)
    stale = sorted(set(catalogue) - source_strings())
    assert not stale, f"{lang}.json has strings no longer in ui/: {stale}"
    for source, text in catalogue.items():
        assert text.strip(), f"{lang}: empty translation of {source!r}"
        assert placeholders(text) == placeholders(source), f"{lang}: placeholders of {source!r}"
        assert text.count("&") == source.count("&"), f"{lang}: mnemonic of {source!r}"
    # Real translations, not English placeholders: nearly all must differ from the source.
    same = [s for s, t in catalogue.items() if s == t and re.search("[a-z]{3}", s)]
    assert len(same) <= 3, same


def test_kazakh_catalogue_uses_kazakh_letters() -> None:
    text = "".join(load_catalogue("kk").values())
    assert KAZAKH_LETTERS & set(text) >= set("әғқңөұүі")


def test_catalogue_files_are_the_ones_loaded() -> None:
    assert sorted(p.name for p in CATALOGUES.glob("*.json")) == ["kk.json", "ru.json"]


def test_switching_language_retranslates_the_window(qtbot: Any, window: MainWindow) -> None:
    assert window.file_menu.title() == "&File"
    window.actions["lang_ru"].trigger()
    # Qt posts LanguageChange to every widget; each retranslates when it gets it.
    qtbot.waitUntil(lambda: window.file_menu.title() == "&Файл")
    assert window.actions["new"].text() == load_catalogue("ru")["&New incident"]
    assert window.editor.heading.text() == "Новый инцидент"
    assert window.incidents.headerData(3, Qt.Orientation.Horizontal) == "Категория"
    assert window.editor.category.currentText() == "Вброс бюллетеней"
    window.actions["lang_kk"].trigger()
    qtbot.waitUntil(lambda: window.sync_label.text() == load_catalogue("kk")["Offline"])
    assert window.edit_menu.title() == load_catalogue("kk")["&Edit"]
    assert window.editor.category.currentText() == "Бюллетеньдерді жәшікке заңсыз салу"
    window.actions["lang_en"].trigger()
    qtbot.waitUntil(lambda: window.file_menu.title() == "&File")
    wait_idle(qtbot, window)


def test_language_choice_is_remembered(qtbot: Any, window: MainWindow) -> None:
    window.switch_language("kk")
    wait_idle(qtbot, window)
    with Store(window.data_dir) as store:
        assert profile.get_language(store) == "kk"
