"""Errors from app/ reach Russian and Kazakh users in their language, the English as details."""

from __future__ import annotations

import errno
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from app.elections import import_stations
from app.errors import InvalidInput, KuaError, NotFound
from app.paths import DB_NAME
from app.results_import import ResultsFileError, import_results
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


# --- station lists and results tables: every problem in the interface language ------------

HEAD = "code,name,region,district,address,registered_voters,lat,lon\n"
ROW = "75-101,Школа № 1,Алматы,Бостандыкский район,ул. Абая 1"  # + voters, lat, lon
# (file, content, line of the first problem (None: the file as a whole), what must be kept:
# column names and values as written in the file)
STATION_FILES: list[tuple[str, str | bytes, int | None, list[str]]] = [
    ("number.csv", HEAD + ROW + ",abc,,\n", 2, ["registered_voters", "abc"]),
    ("negative.csv", HEAD + ROW + ",-12,,\n", 2, ["registered_voters", "-12"]),
    ("nocode.csv", HEAD + ",,Алматы,Район,Адрес,,,\n", 2, ["code", "name"]),
    ("missing.csv", "code,name,region,address\n75-101,a,b,c\n", 1, ["district"]),
    ("unknown.csv", "code,name,region,district,address,телефон\n" + ROW + ",555\n", 1,
     ["телефон"]),
    ("oneline.csv", "code name region district address\n1\n", 1,
     ["code name region district address"]),
    ("cp1251.csv", (HEAD + ROW + ",,,\n").encode("cp1251"), 2, []),
    ("empty.csv", b"", None, []),
    ("header.csv", HEAD, None, []),
    ("duplicate.csv", HEAD + ROW + ",,,\n75-101,Школа № 2,Алматы,Район,Адрес,,,\n", 3,
     ["code", "75-101"]),
    ("fields.csv", HEAD + ROW + ",1,2,3,4\n", 2, []),
    ("coords.csv", HEAD + ROW + ",,95,\n", 2, ["lat", "95", "lon"]),
    ("latonly.csv", "code,name,region,district,address,lat\n" + ROW + ",43.2\n", 1, ["lat"]),
    ("twice.csv", "code,name,region,district,address,Код\n" + ROW + ",1\n", 1, ["Код"]),
    ("quote.csv", HEAD + ROW + ',"1,,\n', 2, []),
    ("book.csv", b"PK\x03\x04" + bytes(20), None, []),
    ("nul.csv", b"code\x00name\n", 1, []),
    ("unnamed.csv", "code,name,region,district,address,\n" + ROW + ",x\n", 2, ["x"]),
    ("many.csv", HEAD + "".join(f"{n},,R,D,A,,,\n" for n in range(1, 25)), 2, []),
]
RESULTS_HEAD = "code,voters_on_list,valid\n"
# the same, and the profile to import with (None: the election's)
RESULTS_FILES: list[tuple[str, str | bytes, int | None, list[str], str | None]] = [
    ("r-figure.csv", RESULTS_HEAD + "75-001,abc,5\n", 2, ["voters_on_list", "abc"], None),
    ("r-minus.csv", RESULTS_HEAD + "75-001,-3,5\n", 2, ["voters_on_list", "-3"], None),
    ("r-blank.csv", RESULTS_HEAD + ",1,2\n", 2, ["code"], None),
    ("r-nocode.csv", "voters_on_list,valid\n1,2\n", 1, ["код комиссии"], None),
    ("r-unknown.csv", "code,voters_on_list,42. Something\n75-001,1,2\n", 1,
     ["42. Something", "kz-presidential", "voters_on_list, ballots_received"], None),
    ("r-ballot.csv", "code,1,Иванов Иван\n75-001,1,2\n", 1,
     ["Иванов Иван", "by-2020-presidential", "Лукашенко Александр Григорьевич"],
     "by-2020-presidential"),
    ("r-nolines.csv", "code,comment\n75-001,x\n", 1, ["kz-presidential"], None),
    ("r-twice.csv", "code,voters_on_list,Voters on the lists\n75-001,1,1\n", 1,
     ["voters_on_list", "Voters on the lists"], None),
    ("r-duplicate.csv", RESULTS_HEAD + "75-001,1,2\n75-001,1,3\n", 3, ["code", "75-001"],
     None),
    ("r-nostation.csv", RESULTS_HEAD + "99-999,1,2\n", 2, ["code", "99-999"], None),
    ("r-header.csv", RESULTS_HEAD, None, [], None),
    ("r-empty.csv", b"", None, [], None),
    ("r-wide.csv", RESULTS_HEAD + "75-001,1,2,3\n", 2, [], None),
    ("r-unnamed.csv", "code,voters_on_list,,valid\n75-001,1,x,2\n", 2, ["x"], None),
    ("r-ansi.csv", "код,voters_on_list\n75-001,1\n".encode("cp1251"), 1, [], None),
    ("r-book.xlsx", b"not a workbook", None, ["File is not a zip file"], None),
]
# app/'s reasons and places are worded with these; none may be left in a translation.
ENGLISH = re.compile(r"\b(line|column|columns|is|not|the|empty|whole|number|negative|missing|"
                     r"required|unknown|accepted|duplicate|already|fields?|header|stored|new|"
                     r"station|file|quote|must|more|save|looks|both|mean|rows|and|or|has|of|"
                     r"no|value|byte|text|range|given|neither|nothing|changed|give)\b")
WHERE = {"ru": "строка {}", "kk": "{}-жол"}
EXACT = {
    ("number.csv", "ru"): "number.csv, строка 2, столбец «registered_voters»: не целое число: "
                          "«abc»",
    ("number.csv", "kk"): "number.csv, 2-жол, «registered_voters» бағаны: бүтін сан емес: «abc»",
    ("cp1251.csv", "ru"): "cp1251.csv, строка 2: файл не в кодировке UTF-8: похоже, это "
                          "Windows-1251; сохраните его в UTF-8 (в Excel: Файл > Сохранить как "
                          "> «CSV UTF-8 (разделитель — запятая)»)",
    ("empty.csv", "kk"): "empty.csv: учаскелер жоқ: файл бос",
    ("duplicate.csv", "ru"): "duplicate.csv, строка 3, столбец «code»: код «75-101» "
                             "повторяется: он уже есть в строке 2",
    ("unnamed.csv", "kk"): "unnamed.csv, 2-жол, 6-баған: «x» тақырып жолында атауы жоқ бағанда "
                           "тұр",
    ("missing.csv", "ru"): "missing.csv, строка 1: нет обязательных столбцов: district",
    ("r-figure.csv", "ru"): "r-figure.csv, строка 2, столбец «voters_on_list»: не целое "
                            "число: «abc»",
    ("r-nostation.csv", "kk"): "r-nostation.csv, 2-жол, «code» бағаны: «99-999» учаскесі "
                             "«{election}» сайлауының учаскелер тізімінде жоқ (алдымен "
                             "учаскелер тізімін импорттаңыз немесе жаңа учаскелер құруға рұқсат "
                             "етіңіз: --create-stations)",
    ("r-header.csv", "ru"): "r-header.csv: в файле есть строка заголовка, но нет строк с "
                            "данными",
}


@pytest.fixture(params=["ru", "kk"])
def lang(request: pytest.FixtureRequest, qapp: Any) -> Iterator[str]:
    language = Language()
    language.switch(request.param)
    yield request.param
    language.switch("en")


def check_shown(exc: BaseException, data_dir: Path, lang: str, name: str, line: int | None,
                kept: list[str], election: str = "") -> None:
    """The message as the UI shows it: translated, every name and value kept, the English
    original as its details."""
    found = errors.explain(exc, data_dir)
    assert found.title == load_catalogue(lang)["Cannot do that"]
    assert found.details == str(exc), name  # the English, for a helper
    assert name in found.text
    if line is not None:
        assert WHERE[lang].format(line) in found.text, found.text
    rest = found.text
    for fragment in sorted([name, election, *kept], key=len, reverse=True):
        assert fragment in rest, (fragment, found.text)
        rest = rest.replace(fragment, "")
    assert not ENGLISH.search(rest), found.text
    if (name, lang) in EXACT:
        assert found.text.split("\n")[0] == EXACT[name, lang].format(election=election)


def test_station_list_problems_are_shown_in_the_interface_language(
        data_dir: Path, tmp_path: Path, lang: str) -> None:
    with Store(data_dir) as store:
        for name, content, line, kept in STATION_FILES:
            path = tmp_path / name
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            with pytest.raises(InvalidInput) as raised:
                import_stations(store, path)
            check_shown(raised.value, data_dir, lang, name, line, kept)
    many = errors.explain(raised.value, data_dir).text.split("\n")
    assert len(many) == 21
    assert many[-1] == {"ru": "... и ещё 4", "kk": "... және тағы 4"}[lang]


def test_results_table_problems_are_shown_in_the_interface_language(
        filled_dir: Path, tmp_path: Path, lang: str) -> None:
    with Store(filled_dir) as store:
        election = store_election_name(store)
        for name, content, line, kept, profile_id in RESULTS_FILES:
            path = tmp_path / name
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            with pytest.raises(ResultsFileError) as raised:
                import_results(store, path, "observer", profile_id)
            check_shown(raised.value, filled_dir, lang, name, line, kept,
                        election if name == "r-nostation.csv" else "")


def store_election_name(store: Store) -> str:
    from app.elections import require_election

    with store.db.read() as s:
        return require_election(s).name


def test_a_conflicting_results_table_names_the_differences(
        filled_dir: Path, tmp_path: Path, lang: str) -> None:
    path = tmp_path / "official.csv"
    with Store(filled_dir) as store:
        path.write_text(RESULTS_HEAD + "75-001,2143,1500\n", encoding="utf-8")
        import_results(store, path, "official", entered_by="Әсел Жақсылықова")
        path.write_text(RESULTS_HEAD + "75-001,2143,\n", encoding="utf-8")
        with pytest.raises(ResultsFileError) as raised:
            import_results(store, path, "official")
    check_shown(raised.value, filled_dir, lang, "official.csv", 2,
                ["75-001", "Әсел Жақсылықова", "valid", "1500"])
    assert errors.explain(raised.value, filled_dir).text == {
        "ru": "official.csv, строка 2: у участка 75-001 уже есть другой протокол (Официальные "
              "данные, внёс: Әсел Жақсылықова): строка протокола «valid»: было 1500, стало "
              "пусто; ничего не изменено; чтобы заменить протокол, разрешите замену (--replace)",
        "kk": "official.csv, 2-жол: 75-001 учаскесінде басқа хаттама бұрыннан бар (Ресми "
              "деректер, енгізген: Әсел Жақсылықова): хаттаманың «valid» жолы: сақталғаны "
              "1500, жаңасы бос; ештеңе өзгертілген жоқ; хаттаманы ауыстыру үшін ауыстыруға "
              "рұқсат етіңіз (--replace)",
    }[lang]


def test_unknown_file_problems_stay_english(data_dir: Path, russian: Language) -> None:
    """A line no rule knows is shown as app/ wrote it; the known ones are still translated."""
    text = ("r.csv line 3, column code: something new\n"
            "r.csv line 4, column code: the station code is empty\n"
            "r.csv: a brand new problem")
    found = errors.explain(InvalidInput(text), data_dir)
    assert found.text == ("r.csv line 3, column code: something new\n"
                          "r.csv, строка 4, столбец «code»: не заполнен код участка\n"
                          "r.csv: a brand new problem")
    odd = errors.explain(InvalidInput("r.csv line 3: "), data_dir)
    assert (odd.text, odd.details) == ("r.csv line 3: ", "")


def test_import_station_list_from_the_menu_speaks_kazakh(
        qtbot: Any, window: MainWindow, messages: Messages, tmp_path: Path) -> None:
    window.switch_language("kk")
    wait_idle(qtbot, window)
    bad = tmp_path / "stations.csv"
    bad.write_text(HEAD + ROW + ",abc,,\n", encoding="utf-8")
    window.import_stations_from(bad)
    wait_idle(qtbot, window)
    _kind, title, text = messages.told[-1]
    assert title == load_catalogue("kk")["Cannot do that"]
    assert text == "stations.csv, 2-жол, «registered_voters» бағаны: бүтін сан емес: «abc»"
    assert messages.details[-1] == ("stations.csv line 2, column registered_voters: 'abc' is "
                                    "not a whole number")


def test_the_protocol_window_asks_with_the_differences_in_the_interface_language(
        lang: str) -> None:
    text = ("station 75-001 already has a different official protocol entered by Әсел "
            "(line valid: stored 1500, new blank; Кандидат (А): stored 10, new 12); nothing was "
            "changed: use --replace to replace it")
    assert errors.protocol_differences(text) == {
        "ru": "строка протокола «valid»: было 1500, стало пусто\nКандидат (А): было 10, стало 12",
        "kk": "хаттаманың «valid» жолы: сақталғаны 1500, жаңасы бос\n"
              "Кандидат (А): сақталғаны 10, жаңасы 12",
    }[lang]
