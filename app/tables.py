"""Tables for spreadsheets: incidents, protocols and discrepancies as CSV or XLSX files."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.country_profiles import get_profile
from app.discrepancies import find_discrepancies
from app.elections import require_election
from app.errors import InvalidInput, KuaError
from app.incidents import IncidentFilter, list_incidents
from app.protocols import check_figures
from app.store import Store
from storage.files import write_atomic
from storage.models import Protocol, Station

TABLES: tuple[str, ...] = ("incidents", "protocols", "discrepancies")
Cell = str | int | None


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def incidents_table(store: Store) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (
            i.id, i.station_code, i.station_name, i.observed_at.isoformat(), i.category,
            i.severity, i.status, i.reporter, "; ".join(i.witnesses), i.description,
            len(i.evidence), "; ".join(e.sha256 for e in i.evidence),
        )
        for i in list_incidents(store, IncidentFilter())
    ]
    header = ("id", "station", "station_name", "observed_at", "category", "severity", "status",
              "reporter", "witnesses", "text", "evidence", "evidence_sha256")
    return Table(header, rows)


def protocols_table(store: Store) -> Table:
    with store.db.read() as s:
        election = require_election(s)
        profile = get_profile(election.country_profile)
        q = (
            select(Station.code, Station.name, Protocol)
            .join(Station, Station.id == Protocol.station_id)
            .where(Station.election_id == election.id, Protocol.deleted.is_(False))
            .order_by(Station.code, Protocol.source)
        )
        found = [(c, n, p.source, p.entered_by, dict(p.lines or {}), dict(p.candidate_votes or {}))
                 for c, n, p in s.execute(q)]
    candidates = list(profile.candidates)
    for *_, cands in found:
        candidates.extend(c for c in cands if c not in candidates)
    rows: list[tuple[Cell, ...]] = []
    for code, name, source, entered_by, lines, cands in found:
        checks = check_figures(profile, lines, cands)
        failed = [c.relation for c in checks if c.status == "failed"]
        rows.append((
            code, name, source, entered_by,
            *(lines.get(line) for line in profile.line_ids),
            *(cands.get(c) for c in candidates),
            "; ".join(failed),
        ))
    header = ("station", "station_name", "source", "entered_by", *profile.line_ids,
              *candidates, "failed_relations")
    return Table(header, rows)


def discrepancies_table(store: Store) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (d.station_code, d.station_name, d.source, x.line, x.copy, x.official, x.difference)
        for d in find_discrepancies(store)
        for x in d.differences
    ]
    return Table(("station", "station_name", "source", "line", "copy", "official",
                  "difference"), rows)


def _safe(value: Cell) -> Cell:
    """Text a spreadsheet would run as a formula is written with a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _write_atomic(dest: Path, data: bytes) -> None:
    try:
        write_atomic(dest, data)  # no half-written table, nor a temp file, after a failure
    except OSError as exc:
        raise KuaError(f"{dest}: cannot write the file ({exc.strerror or exc})") from exc


def write_table(table: Table, dest: Path) -> None:
    suffix = dest.suffix.lower()
    if suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(table.header)
        w.writerows([_safe(v) for v in row] for row in table.rows)
        _write_atomic(dest, ("\ufeff" + buf.getvalue()).encode("utf-8"))  # BOM: Excel reads UTF-8
    elif suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(list(table.header))
        for row in table.rows:
            ws.append([_safe(v) for v in row])
        out = io.BytesIO()
        wb.save(out)
        _write_atomic(dest, out.getvalue())
    else:
        raise InvalidInput(f"{dest.name}: the file must end in .csv or .xlsx")


def export_table(store: Store, name: str, dest: Path) -> int:
    """Write one table; returns the number of rows written."""
    makers: dict[str, Any] = {
        "incidents": incidents_table, "protocols": protocols_table,
        "discrepancies": discrepancies_table,
    }
    if name not in makers:
        raise InvalidInput(f"table: {name!r} is not one of {', '.join(TABLES)}")
    if dest.suffix.lower() not in (".csv", ".xlsx"):
        raise InvalidInput(f"{dest.name}: the file must end in .csv or .xlsx")
    table: Table = makers[name](store)
    write_table(table, dest)
    return len(table.rows)


