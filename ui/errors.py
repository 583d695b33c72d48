"""What the user is told when something fails.

Known errors (bad input, disk full, database locked, unreadable file) are explained in words
the user can act on. Anything else is a bug: its traceback goes to a crash log in the data
folder and the message names that file, so it can be sent to the developers. Nothing fails
silently: worker errors without their own handler, and exceptions escaping a slot, come here.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QWidget

from app.cli import write_crash_log
from app.errors import KuaError
from app.store import describe_environment_error, is_environment_error
from ui import dialogs

_tr = partial(QCoreApplication.translate, "errors")
_data_dir: Path | None = None  # where crash logs go; set by install()


def explain(exc: BaseException, data_dir: Path) -> tuple[str, str]:
    """(title, text) for an error; a bug is logged to a file first."""
    if isinstance(exc, KuaError):
        return _tr("Cannot do that"), str(exc)
    if is_environment_error(exc):
        return _tr("Problem with the computer"), describe_environment_error(exc, data_dir)
    try:
        log = write_crash_log(data_dir, exc)
    except OSError as log_error:  # the data folder itself is unusable: say both
        return _tr("Internal error"), _tr(
            "An internal error occurred ({error}), and it could not be saved to a log: {reason}"
        ).format(error=type(exc).__name__, reason=describe_environment_error(log_error))
    return _tr("Internal error"), _tr(
        "An internal error occurred ({error}). Your saved data is safe. The details "
        "are in {path}; please send this file to the developers."
    ).format(error=type(exc).__name__, path=log)


def report(exc: BaseException, parent: QWidget | None = None) -> None:
    """Tell the user about exc (logging it first if it is a bug)."""
    if _data_dir is None:  # before install(): nowhere to log, so keep Python's behaviour
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
        return
    title, text = explain(exc, _data_dir)
    dialogs.tell(parent or QApplication.activeWindow(), dialogs.Kind.ERROR, title, text)


def install(data_dir: Path) -> None:
    """Crash logs go to data_dir; exceptions escaping a slot are reported, not lost on stderr."""
    global _data_dir
    _data_dir = data_dir

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        report(exc.with_traceback(tb))

    sys.excepthook = hook
