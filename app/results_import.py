"""Import protocol figures for many stations from a table (CSV or XLSX): one row per station.

Columns: the station code; protocol lines, named by the profile's line id ("9"), a label in any
language, or a numbered header as printed on the form ("9. Ballots received ..."); candidates by
name; an optional comment column. Strict like the station list: every problem is reported with
its line and column, and a file with any problem imports nothing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.country_profiles import Profile, get_profile
from app.elections import require_election
from app.errors import InvalidInput, KuaError
from app.protocols import (
    ProtocolConflict,
    check_figures,
    check_source,
    describe_conflict,
    parse_count,
    save_protocol,
)
from app.stations_csv import (
    MAX_ERRORS_SHOWN,
    StationCsvError,
    _decode,
    _first_nonblank_line,
    _quote,
    _records,
    _sniff_delimiter,
)
from app.store import Store
from storage import audit
from storage.ids import uuid7
from storage.models import Candidate, Protocol, Station
from storage.revisions import device_id

CODE_ALIASES = frozenset(
    {"code", "station", "station code", "код", "код участка", "код комиссии", "номер участка",
     "участок", "учаске", "учаске коды", "коды"}
)
COMMENT_ALIASES = frozenset({"comment", "note", "комментарий", "примечание", "түсініктеме"})
_NUMBERED = re.compile(r"(\d+(?:\.\d+)*)\.?(?:\s|$)")


class ResultsFileError(InvalidInput):
    """The file cannot be imported; ``errors`` lists every problem, one line each."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        shown = "\n".join(self.errors[:MAX_ERRORS_SHOWN])
        more = len(self.errors) - MAX_ERRORS_SHOWN
        super().__init__(shown + (f"\n... and {more} more" if more > 0 else ""))

    def __reduce__(self) -> tuple[type[ResultsFileError], tuple[list[str]]]:
        return (type(self), (self.errors,))


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).casefold()


@dataclass(frozen=True)
class RelationTally:
    relation: str
    label: str
    kind: str
    ok: int
    failed: int
    unknown: int
    failed_stations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "relation": self.relation, "label": self.label, "kind": self.kind, "ok": self.ok,
            "failed": self.failed, "unknown": self.unknown,
            "failed_stations": list(self.failed_stations),
        }


@dataclass(frozen=True)
class ResultsImport:
    file: str
    source: str
    profile: str
    rows: int
    created: int
    replaced: int
    unchanged: int
    stations_created: int
    candidates: tuple[str, ...]
    notices: tuple[str, ...]
    checks: tuple[RelationTally, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file, "source": self.source, "profile": self.profile,
            "rows": self.rows, "created": self.created, "replaced": self.replaced,
            "unchanged": self.unchanged, "stations_created": self.stations_created,
            "candidates": list(self.candidates), "notices": list(self.notices),
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass
class _Row:
    line: int
    code: str
    lines: dict[str, int]
    candidates: dict[str, int]
    raw: tuple[str, ...]


# --- reading the table --------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_records(data: bytes, file_name: str) -> list[tuple[int, list[str]]]:
    from zipfile import BadZipFile

    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ResultsFileError([f"{file_name}: not a readable .xlsx workbook ({exc})"]) from None
    try:
        ws = wb.worksheets[0]
        out = []
        for n, cells in enumerate(ws.iter_rows(values_only=True), 1):
            row = [_cell_text(v) for v in cells]
            if any(c.strip() for c in row):
                out.append((n, row))
        return out
    finally:
        wb.close()


def _csv_records(data: bytes, file_name: str) -> list[tuple[int, list[str]]]:
    try:
        text = _decode(data, file_name)
    except StationCsvError as exc:
        raise ResultsFileError(exc.errors) from None
    errors: list[tuple[int, str]] = []
    records = list(_records(text, _sniff_delimiter(_first_nonblank_line(text)), file_name, errors))
    if errors:
        raise ResultsFileError([m for _, m in sorted(errors)])
    return records


def read_table(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank rows with their line (row) numbers, from a CSV or XLSX file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KuaError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if path.suffix.lower() == ".xlsx" or data.startswith(b"PK\x03\x04"):
        records = _xlsx_records(data, path.name)
    else:
        records = _csv_records(data, path.name)
    if not records:
        raise ResultsFileError([f"{path.name}: the file is empty"])
    return records


# --- the header ---------------------------------------------------------------------------


@dataclass
class _Header:
    code: int | None = None
    comment: int | None = None
    lines: dict[int, str] = field(default_factory=dict)  # column -> line id
    candidates: dict[int, str] = field(default_factory=dict)  # column -> candidate name
    unnamed: list[int] = field(default_factory=list)
    shown: dict[int, str] = field(default_factory=dict)


def _line_names(profile: Profile) -> dict[str, str]:
    names: dict[str, str] = {}
    for line in profile.lines:
        names[_norm(line.id)] = line.id
        for label in line.labels.values():
            names[_norm(label)] = line.id
    return names


def _map_header(
    header: list[str], line_no: int, file_name: str, profile: Profile, ballot: Sequence[str]
) -> tuple[_Header, list[str]]:
    h, errors, unknown = _Header(), [], []
    names = _line_names(profile)
    ballot_names = {_norm(n): n for n in ballot}
    taken: dict[str, str] = {}
    where = f"{file_name} line {line_no}"
    for i, raw in enumerate(header):
        text = raw.strip()
        h.shown[i] = _quote(text, 30) if text else f"{i + 1}"
        key = _norm(text)
        if not key:
            h.unnamed.append(i)
            continue
        numbered = _NUMBERED.match(key)
        target: tuple[str, str] | None = None
        if key in CODE_ALIASES and h.code is None:
            h.code = i
            continue
        if key in COMMENT_ALIASES and h.comment is None:
            h.comment = i
            continue
        if key in names:
            target = ("line", names[key])
        elif numbered and numbered.group(1) in profile.line_ids:
            target = ("line", numbered.group(1))
        elif key in ballot_names:
            target = ("candidate", ballot_names[key])
        elif not ballot and not numbered:
            target = ("candidate", text)  # no known ballot: other columns are candidates
        if target is None:
            unknown.append(text)
            continue
        label = f"{target[0]} {target[1]}"
        if label in taken:
            errors.append(f"{where}: columns {taken[label]} and {_quote(text, 30)} both mean "
                          f"{label}")
            continue
        taken[label] = _quote(text, 30)
        (h.lines if target[0] == "line" else h.candidates)[i] = target[1]
    if h.code is None:
        errors.append(f"{where}: no station code column (name it code, код or код комиссии)")
    if unknown:
        errors.append(
            f"{where}: unknown column(s) {', '.join(_quote(u, 30) for u in unknown)}; "
            f"profile {profile.id} has lines {', '.join(profile.line_ids)}"
            + (" and candidates " + "; ".join(ballot) if ballot else "")
        )
    if not h.lines and not h.candidates:
        errors.append(f"{where}: no column is a protocol line of profile {profile.id}")
    return h, errors


# --- the import ---------------------------------------------------------------------------


def _ballot(session: Session, profile: Profile, election_id: str) -> tuple[str, ...]:
    if profile.candidates:
        return profile.candidates
    rows = session.scalars(
        select(Candidate.name)
        .where(Candidate.election_id == election_id, Candidate.deleted.is_(False))
        .order_by(Candidate.ballot_order)
    )
    return tuple(rows)


def _parse_rows(
    records: list[tuple[int, list[str]]], h: _Header, width: int, file_name: str
) -> tuple[list[_Row], list[str], list[str]]:
    rows: list[_Row] = []
    errors: list[str] = []
    notices: list[str] = []
    seen: dict[str, _Row] = {}
    for line_no, raw in records:
        where = f"{file_name} line {line_no}"
        cells = raw + [""] * (width - len(raw))
        if len(raw) > width and any(c.strip() for c in raw[width:]):
            errors.append(f"{where}: {len(raw)} fields, but the header line has {width} columns")
            continue
        row_errors = []
        for i in h.unnamed:
            if cells[i].strip():
                row_errors.append(f"{where}, column {i + 1}: {_quote(cells[i].strip())} is in a "
                                  "column that has no name in the header line")
        code = cells[h.code].strip() if h.code is not None else ""
        if not code:
            row_errors.append(f"{where}, column {h.shown[h.code or 0]}: the station code is empty")
        values: dict[int, int] = {}
        for i in (*h.lines, *h.candidates):
            parsed = parse_count(cells[i])
            if isinstance(parsed, str):
                row_errors.append(f"{where}, column {h.shown[i]}: {parsed}")
            elif parsed is not None:
                values[i] = parsed
        if row_errors:
            errors.extend(row_errors)
            continue
        row = _Row(
            line_no, code,
            {h.lines[i]: v for i, v in values.items() if i in h.lines},
            {h.candidates[i]: v for i, v in values.items() if i in h.candidates},
            tuple(c.strip() for c in cells[:width]),
        )
        first = seen.get(code.casefold())
        if first is not None:
            if first.raw == row.raw:
                notices.append(f"{where} repeats line {first.line} exactly (station {code}); "
                               "imported once")
            else:
                errors.append(f"{where}, column {h.shown[h.code or 0]}: duplicate station "
                              f"{_quote(code)}, already on line {first.line} with other figures")
            continue
        seen[code.casefold()] = row
        rows.append(row)
    return rows, errors, notices


def import_results(
    store: Store,
    path: Path,
    source: str,
    profile_id: str | None = None,
    create_stations: bool = False,
    replace: bool = False,
    entered_by: str | None = None,
) -> ResultsImport:
    """All or nothing: every problem in the file is reported, and then nothing is imported."""
    check_source(source)
    records = read_table(path)
    name = path.name
    with store.db.write() as s:
        election = require_election(s)
        profile = get_profile(profile_id or election.country_profile)
        ballot = _ballot(s, profile, election.id)
        header_line, header = records[0]
        h, errors = _map_header(header, header_line, name, profile, ballot)
        if errors:
            raise ResultsFileError(errors)
        if len(records) == 1:
            raise ResultsFileError([f"{name}: the file has a header line but no rows"])
        rows, errors, notices = _parse_rows(records[1:], h, len(header), name)
        stations = {
            st.code.casefold(): st
            for st in s.scalars(
                select(Station).where(
                    Station.election_id == election.id, Station.deleted.is_(False)
                )
            )
        }
        existing = {
            p.station_id: p
            for p in s.scalars(
                select(Protocol)
                .join(Station, Station.id == Protocol.station_id)
                .where(Station.election_id == election.id, Protocol.source == source,
                       Protocol.deleted.is_(False))
            )
        }
        code_col = h.shown[h.code or 0]
        stations_created = 0
        for row in rows:
            if row.code.casefold() not in stations and not create_stations:
                errors.append(
                    f"{name} line {row.line}, column {code_col}: station {_quote(row.code)} is "
                    f"not in the station list of {election.name!r} (import the station list "
                    "first, or give --create-stations)"
                )
        if errors:
            raise ResultsFileError(errors)
        for row in rows:
            if row.code.casefold() not in stations:
                st = Station(id=uuid7(), election_id=election.id, code=row.code, name=row.code)
                s.add(st)
                stations[row.code.casefold()] = st
                stations_created += 1
        s.flush()  # the new stations before the protocols that refer to them
        counts = {"created": 0, "replaced": 0, "unchanged": 0}
        for row in rows:
            st = stations[row.code.casefold()]
            try:
                _, what = save_protocol(
                    s, st, existing.get(st.id), profile, source, row.lines, row.candidates,
                    entered_by, replace,
                )
            except ProtocolConflict:
                old = existing[st.id]
                errors.append(f"{name} line {row.line}: " + describe_conflict(
                    st.code, source, old, row.lines, row.candidates, "give --replace"
                ))
                continue
            counts[what] += 1
        if errors:
            raise ResultsFileError(errors)  # rolls the whole transaction back
        s.flush()
        audit.append(
            s, device_id(s), "import", "protocol", None,
            {"file": name, "source": source, **counts, "stations_created": stations_created},
        )
    return ResultsImport(
        name, source, profile.id, len(rows), counts["created"], counts["replaced"],
        counts["unchanged"], stations_created, tuple(h.candidates.values()), tuple(notices),
        tuple(_tally(profile, rows, ballot)),
    )


def _tally(profile: Profile, rows: Sequence[_Row], ballot: Sequence[str]) -> list[RelationTally]:
    results = {r.id: {"ok": 0, "failed": 0, "unknown": 0} for r in profile.relations}
    failed: dict[str, list[str]] = {r.id: [] for r in profile.relations}
    for row in rows:
        for c in check_figures(profile, row.lines, row.candidates, ballot=ballot):
            results[c.relation][c.status] += 1
            if c.status == "failed":
                failed[c.relation].append(row.code)
    return [
        RelationTally(r.id, r.label("en"), r.kind, results[r.id]["ok"], results[r.id]["failed"],
                      results[r.id]["unknown"], tuple(failed[r.id]))
        for r in profile.relations
    ]
