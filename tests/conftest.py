"""Fixtures shared by all tests. Keep this generic; UI fixtures live in tests/ui/conftest.py."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Qt without a display, also when pytest is run by hand (make test sets it too).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data folder for a store."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    return ["kua-tests"]


@pytest.fixture(autouse=True)
def _no_leaked_threads_or_timers() -> Iterator[None]:
    """A test that leaves a worker thread or a Qt timer running fails (only once Qt is in use:
    tests of app/ and storage/ never pay for this)."""
    yield
    if "PySide6.QtCore" not in sys.modules:
        return
    from PySide6.QtCore import QThread, QThreadPool, QTimer

    problems = []
    if QThreadPool.globalInstance().activeThreadCount():
        problems.append("QThreadPool.globalInstance() still has active threads")
    worker = sys.modules.get("ui.worker")
    if worker is not None:
        for w in worker.Worker.open_workers():
            problems.append(f"worker {w.name!r} was not closed")
            w.close()
    for obj in gc.get_objects():
        if isinstance(obj, QTimer):
            try:
                active = obj.isActive()
            except RuntimeError:  # its C++ object is already gone
                continue
            if active:
                problems.append(f"a QTimer ({obj.objectName() or 'unnamed'}) is still running")
                obj.stop()
        elif isinstance(obj, QThread):
            try:
                running = obj.isRunning()
            except RuntimeError:
                continue
            if running:
                problems.append(f"a QThread ({obj.objectName() or 'unnamed'}) is still running")
    if problems:
        pytest.fail("; ".join(problems))


# Qt warnings fail tests (qt_log_level_fail), except these: the offscreen platform used for
# tests says it cannot raise windows or grab the keyboard, which on a desktop it would.
OFFSCREEN_NOISE = (r"This plugin does not support .*",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))
