"""Errors from app/ reach Russian and Kazakh users in their language, the English as details."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from app.errors import KuaError, NotFound
from app.paths import DB_NAME
from app.store import Store
from tests.conftest import FIXTURES
from tests.ui.conftest import Messages, wait_idle
from ui import errors
from ui.errors import Trouble
from ui.i18n import Language, load_catalogue
from ui.main_window import MainWindow
from ui.worker import JobContext

RU = load_catalogue("ru")


def db_error(message: str, sql: str = "UPDATE incident SET status=?") -> OperationalError:
    """What SQLAlchemy raises when SQLite fails: the driver's error wrapped with the SQL."""
    return OperationalError(sql, ("x",), sqlite3.OperationalError(message))


@pytest.mark.parametrize(("exc", "trouble"), [
    (OSError(errno.ENOSPC, "No space left on device"), Trouble.DISK_FULL),
    (OSError(errno.EACCES, "Permission denied", "/data/kua.db"), Trouble.NO_PERMISSION),
    (PermissionError(errno.EPERM, "Operation not permitted"), Trouble.NO_PERMISSION),
    (OSError(errno.EROFS, "Read-only file system"), Trouble.READ_ONLY),
    (OSError(errno.EIO, "Input/output error"), Trouble.FOLDER),
    (db_error("database is locked"), Trouble.LOCKED),
    (sqlite3.OperationalError("database table is busy"), Trouble.LOCKED),
    (db_error("attempt to write a readonly database"), Trouble.READ_ONLY),
    (db_error("database or disk is full"), Trouble.DISK_FULL),
    (db_error("database disk image is malformed"), Trouble.DAMAGED),
    (db_error("file is not a database"), Trouble.DAMAGED),
    (db_error("no such column: x"), Trouble.DATABASE),
    # The user's own words in the SQL parameters do not mislead the classification.
    (OperationalError("INSERT … 'the box was locked'", ("locked",),
                      sqlite3.OperationalError("database disk image is malformed")),
     Trouble.DAMAGED),
    (ValueError("a bug"), None),
    (NotFound("incident x: no such incident"), None),
])
def test_environment_errors_are_classified(exc: BaseException, trouble: Trouble | None) -> None:
    assert errors.classify(exc) is trouble


@pytest.fixture
def russian(qapp: Any) -> Iterator[Language]:
    language = Language()
    language.switch("ru")
    yield language
    language.switch("en")


def test_a_damaged_database_is_explained_in_russian(data_dir: Path, russian: Language) -> None:
    (data_dir / DB_NAME).write_bytes(b"this is not a database at all, " * 100)
    # app.store wraps OperationalError in a KuaError; "file is not a database" comes out as
    # SQLAlchemy's DatabaseError as it is. Either way the UI recognises it.
    with pytest.raises(Exception) as raised:  # noqa: PT011
        Store(data_dir).close()
    found = errors.explain(raised.value, data_dir)
    assert found.title == RU["Problem with the computer"]
    assert "повреждена" in found.text and str(data_dir) in found.text
    assert "not a database" in found.details  # the English original, for a helper
    assert not (data_dir / "logs").exists()  # not a bug: no crash log


def run_failing_job(qtbot: Any, window: MainWindow, exc: BaseException) -> None:
    def job(_ctx: JobContext) -> None:
        raise exc

    window.storage.submit(job)  # no handler of its own: reported to the user
    wait_idle(qtbot, window)


def test_disk_full_and_locked_database_in_a_job_speak_russian(
        qtbot: Any, window: MainWindow, messages: Messages) -> None:
    window.switch_language("ru")
    wait_idle(qtbot, window)
    run_failing_job(qtbot, window, OSError(errno.ENOSPC, "No space left on device"))
    assert len(messages.told) == 1
    _kind, title, text = messages.told[0]
    assert title == "Проблема с компьютером"
    assert text.startswith("Диск заполнен")
    assert "Освободите место" in text and str(window.data_dir) in text
    assert "No space left on device" in messages.details[0]

    run_failing_job(qtbot, window, db_error("database is locked"))
    _kind, title, text = messages.told[1]
    assert text.startswith("База данных занята")
    assert "database is locked" in messages.details[1]
    assert not (window.data_dir / "logs").exists()


def test_kazakh_too(qtbot: Any, window: MainWindow, messages: Messages) -> None:
    window.switch_language("kk")
    wait_idle(qtbot, window)
    run_failing_job(qtbot, window, OSError(errno.EROFS, "Read-only file system"))
    kk = load_catalogue("kk")
    assert messages.told[0][1] == kk["Problem with the computer"]
    assert messages.told[0][2] == errors.trouble_text(Trouble.READ_ONLY, window.data_dir)
    assert "тек оқуға" in messages.told[0][2]


def test_known_kua_errors_are_translated_unknown_ones_pass(window: MainWindow,
                                                           russian: Language) -> None:
    found = errors.explain(NotFound("station '99-999': no such station in election 'X'"),
                           window.data_dir)
    assert found.title == "Не получилось"
    assert found.text.startswith("В этих выборах нет участка 99-999")
    assert found.details.startswith("station '99-999'")
    odd = errors.explain(KuaError("something new from app/"), window.data_dir)
    assert (odd.text, odd.details) == ("something new from app/", "")


@pytest.mark.parametrize(("error", "shown"), [
    ("corrupted.jpg: the image data is truncated or damaged",
     "corrupted.jpg: фотография неполная или повреждена"),
    ("scan.pdf: not an image (a PDF document)", "scan.pdf: это не фотография, а документ PDF"),
    ("notes: not an image (unrecognised format)",
     "notes: это не фотография (тип файла не распознан)"),
    ("big.png: too large to decode safely (30000x20000 pixels, over the 178 megapixel limit)",
     "big.png: слишком большое изображение, чтобы открыть его безопасно (30000×20000 пикселей)"),
    ("a.gif: unsupported image format GIF (accepted: JPEG, PNG, TIFF, WebP, HEIC/HEIF)",
     "a.gif: неподдерживаемый формат изображения GIF (допустимы: JPEG, PNG, TIFF, WebP, "
     "HEIC/HEIF)"),
    ("zero.jpg: empty file", "zero.jpg: файл пустой"),
    ("gone.jpg: file not found", "gone.jpg: файл не найден"),
    ("x.jpg: cannot read the file (Permission denied)",
     "x.jpg: файл не удаётся прочитать (Permission denied)"),
    ("huge.tif: too large for a photo (300 MB)",
     "huge.tif: слишком большой файл для фото (300 МБ)"),
    ("odd.jpg: a reason nobody foresaw", "odd.jpg: a reason nobody foresaw"),
])
def test_photo_reasons_are_translated_keeping_the_name(error: str, shown: str,
                                                       russian: Language) -> None:
    file = "/some/folder/" + error.split(":")[0]
    assert errors.import_failure(file, error) == shown


def test_import_of_a_corrupted_photo_names_it_in_russian(qtbot: Any, window: MainWindow,
                                                        messages: Messages) -> None:
    window.switch_language("ru")
    with qtbot.waitSignal(window.evidence.model.modelReset, timeout=5_000):
        window.table.setCurrentIndex(window.incidents.index(0, 0))
    photos = FIXTURES / "photos"
    window.evidence.import_paths([photos / "gps_DSCN0010.jpg", photos / "corrupted.jpg"])
    qtbot.waitUntil(lambda: not window.evidence.importing, timeout=60_000)
    wait_idle(qtbot, window)
    assert len(messages.told) == 1
    _kind, title, text = messages.told[0]
    assert title == "Часть файлов не импортирована"
    assert "corrupted.jpg: фотография неполная или повреждена" in text
    assert "truncated" not in text
    assert window.evidence.model.rowCount() == 1


def test_editor_refuses_unknown_station_and_empty_text_in_russian(
        qtbot: Any, window: MainWindow, messages: Messages) -> None:
    window.switch_language("ru")
    qtbot.waitUntil(lambda: window.stations.rowCount() > 1)
    wait_idle(qtbot, window)
    editor = window.editor
    window.new_incident()
    editor.station.setText("99-999")
    editor.description.setPlainText("Что-то случилось")
    editor.save()  # refused before any round trip to the worker
    assert not window.storage.busy
    assert messages.told[-1][2].startswith("В этих выборах нет участка 99-999")
    assert editor.current is None

    with qtbot.waitSignal(window.evidence.model.modelReset, timeout=5_000):
        window.table.setCurrentIndex(window.incidents.index(0, 0))
    editor.description.setPlainText("   ")
    editor.save()
    assert messages.told[-1][2] == "Опишите, что произошло."
    assert len(messages.told) == 2
    editor.cancel()


def test_a_station_typed_by_name_is_found(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.stations.rowCount() > 1)
    station = window.stations.stations[0]
    window.new_incident()
    window.editor.station.setText(station.name.upper())
    assert window.editor.values()["station_code"] == station.code
