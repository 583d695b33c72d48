"""The few questions and messages the app puts to the user, in one replaceable place.

Windows call these through the module (dialogs.tell(...)), so a test replaces one function and
no modal dialog ever blocks the test run.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


class Kind(Enum):
    INFO = QMessageBox.Icon.Information
    WARNING = QMessageBox.Icon.Warning
    ERROR = QMessageBox.Icon.Critical


def tell(parent: QWidget | None, kind: Kind, title: str, text: str, details: str = "") -> None:
    """A message that does not block: the window stays usable while it is shown."""
    box = QMessageBox(kind.value, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def fatal(title: str, text: str, details: str = "") -> None:
    """A message shown when there is no window to show it in (the store cannot be opened)."""
    box = QMessageBox(Kind.ERROR.value, title, text, QMessageBox.StandardButton.Ok)
    if details:
        box.setDetailedText(details)
    box.exec()


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """A yes/no question; blocks until answered."""
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes


def choose_files(parent: QWidget | None, title: str, name_filter: str) -> list[Path]:
    names, _ = QFileDialog.getOpenFileNames(parent, title, "", name_filter)
    return [Path(n) for n in names]


def choose_file(parent: QWidget | None, title: str, name_filter: str) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, title, "", name_filter)
    return Path(name) if name else None


def choose_save_file(parent: QWidget | None, title: str, name_filter: str,
                     suggested: str = "") -> Path | None:
    name, _ = QFileDialog.getSaveFileName(parent, title, suggested, name_filter)
    return Path(name) if name else None


def choose_folder(parent: QWidget | None, title: str) -> Path | None:
    name = QFileDialog.getExistingDirectory(parent, title)
    return Path(name) if name else None
