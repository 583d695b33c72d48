"""Parse a polling station list from a CSV file.

The file is usually made by a team lead in Excel or LibreOffice, often from a
list published by a territorial election commission. The parser is strict:
every problem in the file is reported at once (file name, line, column), and
a file with any problem yields no stations at all, so nothing is imported
half-way and no typo silently loses data.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

REQUIRED_COLUMNS: tuple[str, ...] = ("code", "name", "region", "district", "address")
OPTIONAL_COLUMNS: tuple[str, ...] = ("commission", "registered_voters", "lat", "lon")
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

MAX_ERRORS_SHOWN = 20

_EXCEL_HINT = 'in Excel: File > Save As > "CSV UTF-8 (Comma delimited)"'

# Header aliases (Russian, Kazakh, English variants). Compared after _norm_header().
_ALIASES_BY_COLUMN: dict[str, tuple[str, ...]] = {
    "code": ("код", "код участка", "номер участка", "учаске коды", "коды"),
    "name": ("название", "наименование", "атауы", "атау"),
    "region": ("регион", "область", "облыс", "өңір"),
    "district": ("район", "аудан"),
    "address": ("адрес", "мекенжай", "мекенжайы", "мекен-жай", "мекен-жайы"),
    "commission": ("комиссия", "вышестоящая комиссия", "superior commission"),
    "registered_voters": (
        "voters",
        "избирателей",
        "число избирателей",
        "количество избирателей",
        "кол-во избирателей",
        "сайлаушылар",
        "сайлаушылар саны",
    ),
    "lat": ("latitude", "широта", "ендік"),
    "lon": ("lng", "long", "longitude", "долгота", "бойлық"),
}

_NBSP_LIKE = "\u00a0\u202f\u2009"
_WHOLE_NUMBER = re.compile(rf"[0-9]+|[0-9]{{1,3}}(?:[ {_NBSP_LIKE}][0-9]{{3}})+")
_NEGATIVE_NUMBER = re.compile(rf"-\s*[0-9][0-9 {_NBSP_LIKE}]*")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")


def _norm_header(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", name.strip().casefold())


_ALIASES: dict[str, str] = {_norm_header(c): c for c in COLUMNS}
for _column, _names in _ALIASES_BY_COLUMN.items():
    for _name in _names:
        _ALIASES[_norm_header(_name)] = _column


@dataclass(frozen=True)
class StationRow:
    code: str
    name: str
    region: str
    district: str
    address: str
    commission: str | None
    registered_voters: int | None
    lat: float | None
    lon: float | None


class StationCsvError(Exception):
    """The file cannot be imported. ``errors`` lists every problem, one line each."""

    def __init__(self, errors: list[str]) -> None:
        self.errors: list[str] = list(errors)
        shown = self.errors[:MAX_ERRORS_SHOWN]
        text = "\n".join(shown)
        if len(self.errors) > len(shown):
            text += f"\n... and {len(self.errors) - len(shown)} more"
        super().__init__(text)

    def __reduce__(self) -> tuple[type[StationCsvError], tuple[list[str]]]:
        return (type(self), (self.errors,))


def _quote(value: str, limit: int = 40) -> str:
    value = value.replace("\r", " ").replace("\n", " ")
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return f"'{value}'"


# --- decoding ---------------------------------------------------------------


def _looks_like_cp1251(data: bytes) -> bool:
    """True for Cyrillic text in a Windows ANSI code page rather than UTF-8 with a few bad bytes."""
    as_utf8 = data.decode("utf-8", errors="replace")
    bad = as_utf8.count("\ufffd")
    good_multibyte = sum(1 for c in as_utf8 if ord(c) > 127 and c != "\ufffd")
    if good_multibyte > bad:
        return False  # mostly valid UTF-8: a damaged UTF-8 file, not an ANSI one
    non_ascii = [c for c in data.decode("cp1251", errors="replace") if ord(c) > 127]
    cyrillic = sum(1 for c in non_ascii if "\u0400" <= c <= "\u04ff")
    return bool(non_ascii) and cyrillic >= 0.7 * len(non_ascii)


def _decode(data: bytes, file_name: str) -> str:
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise StationCsvError(
            [
                f"{file_name}: this is an Excel workbook (.xlsx/.xls), not a CSV file; "
                f"save it as CSV UTF-8 ({_EXCEL_HINT})"
            ]
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" export: UTF-16 with a BOM (tab-separated).
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise StationCsvError(
                [f"{file_name}: the file is not valid UTF-16 text; save it as UTF-8"]
            ) from None
    else:
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            if _looks_like_cp1251(data):
                message = (
                    f"{file_name} line {line}: the file is not UTF-8 text; the file looks like "
                    f"Windows-1251, save it as UTF-8 ({_EXCEL_HINT})"
                )
            else:
                message = (
                    f"{file_name} line {line}: byte 0x{data[exc.start]:02X} is not valid "
                    f"UTF-8 text; save the file as UTF-8 ({_EXCEL_HINT})"
                )
            raise StationCsvError([message]) from None
    if "\x00" in text:
        # UTF-16 without a BOM, or a binary file that happens to be valid UTF-8.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise StationCsvError(
            [
                f"{file_name} line {line}: the file contains NUL characters, so it is not a "
                f"CSV text file; save it as CSV UTF-8 ({_EXCEL_HINT})"
            ]
        )
    return text


# --- CSV records --------------------------------------------------------------


def _first_nonblank_line(text: str) -> str:
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return line
    return ""


def _sniff_delimiter(header_line: str) -> str:
    """Comma, semicolon (Excel in Russian locales) or tab: the most frequent one outside quotes."""
    counts = dict.fromkeys((",", ";", "\t"), 0)
    in_quotes = False
    for ch in header_line:
        if ch == '"':
            in_quotes = not in_quotes
        elif not in_quotes and ch in counts:
            counts[ch] += 1
    return max(counts, key=lambda d: counts[d])  # ties: the first, i.e. comma


def _csv_error_text(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return 'a quoted field starts here but its closing quote (") is missing'
    if "expected after" in text:
        return (
            "a closing quote must be followed by the separator; "
            'inside a quoted field write a quote as two quotes ("")'
        )
    if "field larger than field limit" in text:
        return "a field is too long"
    return f"cannot read the line as CSV ({text})"


def _records(
    text: str, delimiter: str, file_name: str, errors: list[tuple[int, str]]
) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the physical line number where each one starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    consumed = 0
    while True:
        start = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append((start, f"{file_name} line {start}: {_csv_error_text(exc)}"))
            consumed = reader.line_num
            continue
        consumed = reader.line_num
        if all(not field.strip() for field in row):
            continue  # blank line, or an Excel row of empty cells (";;;;")
        yield start, row


# --- values -------------------------------------------------------------------


def _parse_voters(value: str) -> int | str:
    """The number, or an error text."""
    if _WHOLE_NUMBER.fullmatch(value):
        return int(re.sub(r"[^0-9]", "", value))
    if _NEGATIVE_NUMBER.fullmatch(value):
        return f"{_quote(value)} is negative; the number of voters must be 0 or more"
    return f"{_quote(value)} is not a whole number"


def _parse_coordinate(value: str, limit: int) -> float | str:
    """The coordinate in degrees, or an error text."""
    if not _DECIMAL.fullmatch(value) or value.count(",") + value.count(".") > 1:
        return f"{_quote(value)} is not a number (expected decimal degrees such as 43.2567)"
    number = float(value.replace(",", "."))
    if not -limit <= number <= limit:
        return f"{_quote(value)} is out of range (must be between -{limit} and {limit})"
    return number


@dataclass(frozen=True)
class _Columns:
    """Where each known column is in the file, and how to parse one row."""

    file_name: str
    width: int
    index: dict[str, int]
    shown: dict[str, str]  # column name as written in the file, for messages
    unnamed: tuple[int, ...]
    delimiter: str

    def where(self, line: int, column: str) -> str:
        return f"{self.file_name} line {line}, column {self.shown.get(column, column)}"

    def code_of(self, row: list[str]) -> str:
        """The row's station code, or "" when there is none (or the row is malformed)."""
        if len(row) != self.width or "code" not in self.index:
            return ""
        return row[self.index["code"]].strip()

    def parse_row(self, line: int, row: list[str]) -> StationRow | list[str]:
        """The station, or the errors found in this row."""
        if len(row) != self.width:
            hint = ""
            if len(row) > self.width:
                hint = f" (a value that contains {self.delimiter!r} must be in double quotes)"
            return [
                f"{self.file_name} line {line}: {len(row)} fields, but the header line has "
                f"{self.width} columns{hint}"
            ]
        errors: list[str] = []
        for i in self.unnamed:
            if row[i].strip():
                errors.append(
                    f"{self.file_name} line {line}, column {i + 1}: {_quote(row[i].strip())} "
                    "is in a column that has no name in the header line"
                )

        def value(column: str) -> str:
            return row[self.index[column]].strip() if column in self.index else ""

        code = value("code")
        if "code" in self.index and not code:
            errors.append(f"{self.where(line, 'code')}: the station code is empty")
        name = value("name")
        if "name" in self.index and not name:
            errors.append(f"{self.where(line, 'name')}: the station name is empty")

        voters: int | None = None
        if raw := value("registered_voters"):
            parsed = _parse_voters(raw)
            if isinstance(parsed, str):
                errors.append(f"{self.where(line, 'registered_voters')}: {parsed}")
            else:
                voters = parsed

        coords: dict[str, float | None] = {"lat": None, "lon": None}
        for column, limit in (("lat", 90), ("lon", 180)):
            if raw := value(column):
                parsed_coord = _parse_coordinate(raw, limit)
                if isinstance(parsed_coord, str):
                    errors.append(f"{self.where(line, column)}: {parsed_coord}")
                else:
                    coords[column] = parsed_coord
        lat_raw, lon_raw = value("lat"), value("lon")
        if "lat" in self.index and "lon" in self.index and bool(lat_raw) != bool(lon_raw):
            given, absent = ("lat", "lon") if lat_raw else ("lon", "lat")
            errors.append(
                f"{self.where(line, absent)}: empty while "
                f"{self.shown.get(given, given)} is given; fill both or neither"
            )

        if errors:
            return errors
        return StationRow(
            code=code,
            name=name,
            region=value("region"),
            district=value("district"),
            address=value("address"),
            commission=value("commission") or None,
            registered_voters=voters,
            lat=coords["lat"],
            lon=coords["lon"],
        )


# --- the parser ---------------------------------------------------------------


def parse_stations_csv(data: bytes, file_name: str) -> list[StationRow]:
    """Parse a station list; raise StationCsvError listing every problem in the file.

    Accepts UTF-8 with or without BOM, comma or semicolon separators (sniffed
    from the header line), header names in any case and with Russian/Kazakh
    aliases. Required columns: code, name, region, district, address; optional:
    commission, registered_voters, lat, lon.
    """
    text = _decode(data, file_name)
    header_text = _first_nonblank_line(text)
    if not header_text:
        raise StationCsvError([f"{file_name}: no stations: the file is empty"])
    delimiter = _sniff_delimiter(header_text)

    errors: list[tuple[int, str]] = []  # (line, message), sorted by line at the end
    records = list(_records(text, delimiter, file_name, errors))
    if not records:
        # Only CSV syntax errors, if anything.
        errors.append((0, f"{file_name}: no stations: the file has no header line and no rows"))
        raise StationCsvError(_sorted_messages(errors))

    header_line, header = records[0]
    header_errors: list[str] = []
    where_header = f"{file_name} line {header_line}"
    index: dict[str, int] = {}
    shown: dict[str, str] = {}
    unnamed: list[int] = []
    unknown: list[str] = []
    for i, raw_name in enumerate(header):
        name = raw_name.strip()
        if not name:
            unnamed.append(i)
            continue
        column = _ALIASES.get(_norm_header(name))
        if column is None:
            unknown.append(name)
        elif column in index:
            header_errors.append(
                f"{where_header}: columns {_quote(shown[column])} and {_quote(name)} "
                f"both mean {column}"
            )
        else:
            index[column] = i
            shown[column] = name

    missing = [c for c in REQUIRED_COLUMNS if c not in index]
    if missing:
        hint = ""
        if len(header) == 1:
            hint = " (columns must be separated by commas or semicolons)"
        header_errors.append(
            f"{where_header}: missing required column(s): {', '.join(missing)}{hint}"
        )
    if unknown:
        header_errors.append(
            f"{where_header}: unknown column(s): {', '.join(_quote(u) for u in unknown)}; "
            f"accepted columns are: {', '.join(COLUMNS)} "
            "(Russian names such as код, название, регион, район, адрес are accepted too)"
        )
    if len(records) == 1:
        header_errors.append(
            f"{file_name}: no stations: the file has a header line but no station rows"
        )

    if ("lat" in index) != ("lon" in index):
        given, absent = ("lat", "lon") if "lat" in index else ("lon", "lat")
        header_errors.append(
            f"{where_header}: column {_quote(shown[given])} is there but {absent} is missing; "
            "give both lat and lon, or neither"
        )

    errors.extend((header_line, message) for message in header_errors)

    columns = _Columns(
        file_name=file_name,
        width=len(header),
        index=index,
        shown=shown,
        unnamed=tuple(unnamed),
        delimiter=delimiter,
    )
    stations: list[StationRow] = []
    first_line_of_code: dict[str, int] = {}
    for line, row in records[1:]:
        code = columns.code_of(row)
        if code:
            previous = first_line_of_code.setdefault(code.casefold(), line)
            if previous != line:
                message = (
                    f"{columns.where(line, 'code')}: duplicate code {_quote(code)}, "
                    f"already used on line {previous}"
                )
                errors.append((line, message))
        result = columns.parse_row(line, row)
        if isinstance(result, list):
            errors.extend((line, message) for message in result)
            continue
        stations.append(result)

    if errors:
        raise StationCsvError(_sorted_messages(errors))
    return stations


def _sorted_messages(errors: list[tuple[int, str]]) -> list[str]:
    return [message for _, message in sorted(errors, key=lambda e: e[0])]
