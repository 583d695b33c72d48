"""Error reporting, the bundled font, and the worker's threading contract."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

from app.errors import InvalidInput
from app.store import Store
from tests.ui.conftest import Messages
from ui import errors
from ui.application import install_font
from ui.worker import JobContext, Worker


def test_known_errors_are_explained_without_a_log(data_dir: Path) -> None:
    found = errors.explain(InvalidInput("station: no such station"), data_dir)
    assert found.text == "station: no such station"  # unknown: passed through as it is
    found = errors.explain(OSError(errno.ENOSPC, "No space left on device"), data_dir)
    assert "disk is full" in found.text
    assert "No space left on device" in found.details
    assert not (data_dir / "logs").exists()


def test_a_bug_is_logged_and_the_log_named(data_dir: Path) -> None:
    try:
        raise ZeroDivisionError("oops")
    except ZeroDivisionError as exc:
        text = errors.explain(exc, data_dir).text
    logs = list((data_dir / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in text
    assert "ZeroDivisionError" in logs[0].read_text()


def test_bundled_font_covers_kazakh(qapp: QApplication) -> None:
    family = install_font(qapp)
    assert family == "Noto Sans"
    assert qapp.font().family() == "Noto Sans"
    metrics = QFontMetrics(qapp.font())
    for letter in "ӘҒҚҢӨҰҮҺІәғқңөұүһі":
        assert metrics.inFontUcs4(ord(letter)), letter


def test_jobs_run_off_the_main_thread_results_on_it(qtbot: Any, data_dir: Path,
                                                    messages: Messages) -> None:
    main = threading.get_ident()
    worker = Worker("test", open_store=lambda: Store(data_dir))
    seen: dict[str, Any] = {}

    def job(ctx: JobContext) -> int:
        seen["job_thread"] = threading.get_ident()
        ctx.progress("half", force=True)
        return 42

    def done(result: int) -> None:
        seen["done_thread"] = threading.get_ident()
        seen["result"] = result

    try:
        worker.submit(job, done, on_progress=lambda p: seen.setdefault("progress", p))
        qtbot.waitUntil(lambda: "result" in seen)
        assert seen["job_thread"] != main and seen["done_thread"] == main
        assert seen["result"] == 42 and seen["progress"] == "half"

        failures: list[BaseException] = []
        worker.submit(lambda ctx: 1 / 0, None, failures.append)
        qtbot.waitUntil(lambda: bool(failures))
        assert isinstance(failures[0], ZeroDivisionError)

        worker.submit(lambda ctx: 1 / 0)  # no handler: reported to the user, with a log
        qtbot.waitUntil(lambda: bool(messages.told))
        assert "crash-" in messages.texts()
    finally:
        worker.close()
    assert worker not in Worker.open_workers()
