"""Command-line commands for protocols: enter and check figures, import results, compare
sources, export tables. Registered by app.cli.build_parser (kept apart so app/cli.py stays small).

Exit codes as everywhere: 0 success, 1 some input was rejected (or a check failed), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.cli import _print_json

STATUS_MARK = {"ok": "ok     ", "failed": "FAILED ", "unknown": "unknown"}


def _pairs(values: list[str] | None, what: str) -> dict[str, int | None]:
    """NAME=VALUE arguments; a blank VALUE is unknown (None)."""
    from app.errors import InvalidInput
    from app.protocols import parse_count

    out: dict[str, int | None] = {}
    for item in values or ():
        name, sep, raw = item.rpartition("=")  # a name may hold "=", a figure never
        name = name.strip()
        if not sep or not name:
            raise InvalidInput(f"{what} {item!r}: write it as NAME=VALUE, e.g. 9=1660")
        parsed = parse_count(raw)
        if isinstance(parsed, str):
            raise InvalidInput(f"{what} {name}: {parsed}")
        if name in out:
            raise InvalidInput(f"{what} {name} is given twice")
        out[name] = parsed
    return out


def _print_checks(view: Any) -> None:
    for c in view.checks:
        extra = f"   (unknown: {', '.join(c.missing)})" if c.missing else ""
        if c.status == "failed" and c.difference:
            extra = f"   (off by {abs(c.difference)})"
        print(f"  {STATUS_MARK[c.status]} {c.kind:<4}  {c.label}:  {c.formula()}{extra}")


def _show_protocol(view: Any) -> None:
    who = f", entered by {view.entered_by}" if view.entered_by else ""
    name = f" ({view.station_name})" if view.station_name != view.station_code else ""
    print(f"station {view.station_code}{name}, {view.source} protocol{who}")
    figures = [f"{k}={v}" for k, v in view.lines.items()]
    figures += [f"{k}={v}" for k, v in view.candidates.items()]
    print("  " + ("; ".join(figures) or "no figures"))
    for ev in view.photos:
        print(f"  photo: {ev.sha256}  {ev.original_name}")
    _print_checks(view)


def cmd_protocol_add(store: Any, a: argparse.Namespace) -> int:
    from app.protocols import ProtocolDraft, add_protocol_with_photos

    draft = ProtocolDraft(
        station_code=a.station,
        source=a.source,
        lines=_pairs(a.line, "line"),
        candidates=_pairs(a.candidate, "candidate"),
        entered_by=a.entered_by,
    )
    view = add_protocol_with_photos(store, draft, [Path(p) for p in a.photo or ()], a.replace)
    if a.json:
        _print_json(view.to_json(), sys.stdout)
    else:
        _show_protocol(view)
    return 0


def cmd_protocol_check(store: Any, a: argparse.Namespace) -> int:
    from app.errors import KuaError
    from app.protocols import station_protocols

    views = station_protocols(store, a.station, a.lang)
    if a.source:
        views = [v for v in views if v.source == a.source]
    if not views:
        which = f"{a.source} protocol" if a.source else "protocol"
        raise KuaError(f"station {a.station}: no {which} entered yet (see protocol add)")
    failed_hard = any(c.status == "failed" and c.kind == "hard" for v in views for c in v.checks)
    if a.json:
        _print_json([v.to_json() for v in views], sys.stdout)
    else:
        for v in views:
            _show_protocol(v)
    return 1 if failed_hard else 0


def cmd_results_import(store: Any, a: argparse.Namespace) -> int:
    from app.results_import import import_results

    r = import_results(
        store, Path(a.file), a.source, a.profile, a.create_stations, a.replace, a.entered_by
    )
    if a.json:
        _print_json(r.to_json(), sys.stdout)
        return 0
    for notice in r.notices:
        print(f"notice: {notice}", file=sys.stderr)
    print(
        f"{r.file}: {r.rows} {r.source} protocols: {r.created} added, {r.replaced} replaced, "
        f"{r.unchanged} unchanged; {r.stations_created} stations created (profile {r.profile})"
    )
    for t in r.checks:
        shown = ", ".join(t.failed_stations[:5]) + (" ..." if len(t.failed_stations) > 5 else "")
        print(
            f"  {t.kind:<4} {t.label}: {t.ok} ok, {t.failed} failed, {t.unknown} unknown"
            + (f"  (failed: {shown})" if t.failed else "")
        )
    return 0


def cmd_discrepancies(store: Any, a: argparse.Namespace) -> int:
    from app.discrepancies import COPIES, find_discrepancies

    found = find_discrepancies(store, tuple(a.source or COPIES), a.sort)
    if a.limit is not None:
        found = found[: a.limit]
    if a.json:
        _print_json([d.to_json() for d in found], sys.stdout)
        return 0
    for d in found:
        print(f"{d.station_code:<14} {d.source:<8} largest difference {d.size}  {d.station_name}")
        for x in d.differences:
            what = "candidate" if x.is_candidate else "line"
            print(f"    {what} {x.line}: copy {x.copy}, official {x.official} ({x.difference:+d})")
    print(f"{len(found)} stations where a copy differs from the official result")
    return 0


def cmd_discrepancy_incident(store: Any, a: argparse.Namespace) -> int:
    from app.cli import _show_incident
    from app.discrepancies import incident_from_discrepancy

    view = incident_from_discrepancy(store, a.station, a.source, a.lang, a.reporter)
    _show_incident(view, a.json)
    return 0


def cmd_export_table(store: Any, a: argparse.Namespace) -> int:
    from app.tables import export_table

    n = export_table(store, a.table, Path(a.out))
    if a.json:
        _print_json({"table": a.table, "file": a.out, "rows": n}, sys.stdout)
    else:
        print(f"{a.out}: {n} rows ({a.table})")
    return 0


def add_commands(
    sub: Any, cmd: Callable[..., Any], group: Callable[[str, str], Any]
) -> None:
    from app import taxonomy
    from app.country_profiles import profile_ids

    # The choices from the modules that own them: with app.store already loaded by app.cli,
    # importing these adds under 10 ms (of ~330) to the command line's start.
    from app.discrepancies import COPIES
    from app.protocols import SOURCES
    from app.tables import TABLES

    pr = group("protocol", "vote-count protocols: figures from a photo, checked")
    x = cmd(pr, "add", cmd_protocol_add, "enter a station's protocol figures from one source")
    x.add_argument("--station", required=True, help="station code")
    x.add_argument("--source", required=True, choices=SOURCES)
    x.add_argument("--line", action="append", metavar="ID=VALUE",
                   help="a protocol line's figure (repeat; a blank value is unknown)")
    x.add_argument("--candidate", action="append", metavar="NAME=VOTES",
                   help="votes for a candidate (repeat)")
    x.add_argument("--photo", action="append", help="a photo of the protocol (repeat)")
    x.add_argument("--entered-by", help="who entered the figures")
    x.add_argument("--replace", action="store_true",
                   help="replace a different protocol already entered from this source")
    x.add_argument("--json", action="store_true")
    x = cmd(pr, "check", cmd_protocol_check,
            "check a station's protocols against the control relations (exit 1: a hard one "
            "failed)")
    x.add_argument("--station", required=True, help="station code")
    x.add_argument("--source", choices=SOURCES, help="only this source")
    x.add_argument("--lang", choices=taxonomy.LANGS, default="en")
    x.add_argument("--json", action="store_true")

    rs = group("results", "protocol figures of many stations from a table")
    x = cmd(rs, "import", cmd_results_import,
            "import one protocol per row from a CSV or XLSX file (all or nothing)")
    x.add_argument("file", metavar="FILE.csv|FILE.xlsx")
    x.add_argument("--source", required=True, choices=SOURCES)
    x.add_argument("--profile", choices=profile_ids(),
                   help="country profile (default: the election's)")
    x.add_argument("--create-stations", action="store_true",
                   help="add stations the station list does not have")
    x.add_argument("--replace", action="store_true",
                   help="replace different protocols already entered from this source")
    x.add_argument("--entered-by", help="who entered the figures")
    x.add_argument("--json", action="store_true")

    x = cmd(sub, "discrepancies", cmd_discrepancies,
            "stations where the observer's or posted copy differs from the official result")
    x.add_argument("--source", action="append", choices=COPIES,
                   help="compare only this copy with official (repeatable)")
    x.add_argument("--sort", choices=("size", "station"), default="size",
                   help="largest difference first (default), or by station code")
    x.add_argument("--limit", type=int)
    x.add_argument("--json", action="store_true")

    di = group("discrepancy", "act on a difference between a copy and the official result")
    x = cmd(di, "incident", cmd_discrepancy_incident,
            "log a 'protocol falsified' incident with the differing lines and the photos")
    x.add_argument("--station", required=True, help="station code")
    x.add_argument("--source", choices=COPIES, default="observer")
    x.add_argument("--lang", choices=taxonomy.LANGS, default="ru", help="language of its text")
    x.add_argument("--reporter", help="who reported it")
    x.add_argument("--json", action="store_true")

    ex = group("export", "tables for spreadsheets")
    x = cmd(ex, "table", cmd_export_table, "write incidents, protocols or discrepancies")
    x.add_argument("table", choices=TABLES)
    x.add_argument("--out", required=True, metavar="FILE.csv|FILE.xlsx")
    x.add_argument("--json", action="store_true")
