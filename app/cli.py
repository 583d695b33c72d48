"""The command line: `python main.py [--data-dir DIR] COMMAND ...`.

Exit codes: 0 success, 1 some input was rejected, 2 usage error. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from app import taxonomy
from app.errors import KuaError
from app.paths import resolve_data_dir
from app.store import Store, describe_environment_error, is_environment_error

Handler = Callable[[Store, argparse.Namespace], int]


def _print_json(obj: Any, out: TextIO) -> None:
    json.dump(obj, out, ensure_ascii=False, indent=2)
    out.write("\n")


def parse_time(value: str) -> datetime:
    """ISO 8601; without an offset the time is taken as this computer's local time."""
    if value.strip().lower() == "now":
        return datetime.now().astimezone()
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time like 2024-03-20T14:05 or 2024-03-20T14:05+05:00"
        ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


# --- stations, elections, categories ---------------------------------------------------------


def cmd_stations_import(store: Store, a: argparse.Namespace) -> int:
    from app.elections import import_stations

    r = import_stations(store, Path(a.file))
    print(
        f"{r.file}: {r.created} stations added, {r.updated} updated, {r.unchanged} unchanged "
        f"(election: {r.election.name}, {r.election.date})"
    )
    return 0


def cmd_stations_list(store: Store, a: argparse.Namespace) -> int:
    from app.elections import list_stations

    stations = list_stations(store)
    if a.json:
        _print_json([s.to_json() for s in stations], sys.stdout)
    else:
        for s in stations:
            print(f"{s.code:<12} {s.incidents:>5}  {s.name}  ({s.region}, {s.district})")
    return 0


def cmd_election_create(store: Store, a: argparse.Namespace) -> int:
    from app.elections import create_election

    e = create_election(store, a.name, a.date, a.kind, a.profile)
    print(f"{e.id}  {e.name} ({e.date}) is now the current election")
    return 0


def cmd_election_list(store: Store, a: argparse.Namespace) -> int:
    from dataclasses import asdict

    from app.elections import get_current_election, list_elections

    current = get_current_election(store)
    rows = list_elections(store)
    if a.json:
        _print_json([asdict(e) | {"current": e == current} for e in rows], sys.stdout)
    else:
        for e in rows:
            mark = "*" if e == current else " "
            print(f"{mark} {e.id}  {e.date}  {e.name}")
    return 0


def cmd_election_use(store: Store, a: argparse.Namespace) -> int:
    from app.elections import use_election

    e = use_election(store, a.id)
    print(f"current election: {e.name} ({e.date})")
    return 0


def cmd_categories(store: Store | None, a: argparse.Namespace) -> int:
    terms = taxonomy.categories()
    if a.json:
        _print_json([{"key": t.key, "label": t.label(a.lang)} for t in terms], sys.stdout)
    else:
        for t in terms:
            print(f"{t.key:<26} {t.label(a.lang)}")
    return 0


# --- incidents -----------------------------------------------------------------------------


def _show_incident(view: Any, as_json: bool) -> None:
    if as_json:
        _print_json(view.to_json(), sys.stdout)
        return
    print(f"id:        {view.id}")
    print(f"station:   {view.station_code}  {view.station_name}")
    print(f"observed:  {view.observed_at.isoformat()}")
    print(f"category:  {view.category}  ({taxonomy.label('category', view.category, 'en')})")
    print(f"severity:  {view.severity}    status: {view.status}")
    if view.reporter:
        print(f"reporter:  {view.reporter}")
    if view.witnesses:
        print(f"witnesses: {'; '.join(view.witnesses)}")
    print(f"text:      {view.description}")
    for ev in view.evidence:
        print(f"evidence:  {ev.id}  {ev.sha256}  {ev.original_name}")


def cmd_incident_add(store: Store, a: argparse.Namespace) -> int:
    from app.evidence import prepare_files, record
    from app.incidents import IncidentDraft, add_incident, get_incident

    draft = IncidentDraft(
        station_code=a.station,
        category=a.category,
        observed_at=a.observed_at,
        description=a.text,
        severity=a.severity,
        witnesses=tuple(a.witness or ()),
        reporter=a.reporter,
    )
    # Check every photo before anything is stored: a bad photo rejects the whole command.
    prepared = list(prepare_files(store, [Path(p) for p in a.photo or ()]))
    failed = [p for p in prepared if p.error]
    for p in failed:
        print(f"error: {Path(p.path).name}: {p.error}", file=sys.stderr)
    if failed:
        print("error: no incident was added", file=sys.stderr)
        return 1
    view = add_incident(store, draft)
    for p in prepared:
        record(store, view.id, p)
    _show_incident(get_incident(store, view.id), a.json)
    return 0


def cmd_incident_edit(store: Store, a: argparse.Namespace) -> int:
    from app.incidents import edit_incident

    changes: dict[str, Any] = {}
    for arg, field in (
        ("text", "description"),
        ("status", "status"),
        ("category", "category"),
        ("severity", "severity"),
        ("reporter", "reporter"),
        ("station", "station_code"),
        ("observed_at", "observed_at"),
    ):
        value = getattr(a, arg)
        if value is not None:
            changes[field] = value
    if a.witness is not None:
        changes["witnesses"] = a.witness
    if not changes:
        print("error: nothing to change (give --text, --status, --category, ...)", file=sys.stderr)
        return 2
    _show_incident(edit_incident(store, a.id, **changes), a.json)
    return 0


def cmd_incident_list(store: Store, a: argparse.Namespace) -> int:
    from app.incidents import IncidentFilter, list_incidents

    flt = IncidentFilter(
        search=a.search or "",
        station_codes=tuple(a.station or ()),
        categories=tuple(a.category or ()),
        statuses=tuple(a.status or ()),
        severities=tuple(a.severity or ()),
        since=a.since,
        until=a.until,
    )
    rows = list_incidents(store, flt, limit=a.limit)
    if a.json:
        _print_json([r.to_json() for r in rows], sys.stdout)
    else:
        for r in rows:
            text = r.description.replace("\n", " ")
            text = text if len(text) <= 70 else text[:69] + "…"
            print(
                f"{r.id}  {r.observed_at:%Y-%m-%d %H:%M}  {r.station_code:<10} "
                f"{r.category:<22} {r.status:<10} {text}"
            )
    return 0


def cmd_incident_show(store: Store, a: argparse.Namespace) -> int:
    from app.incidents import get_incident

    _show_incident(get_incident(store, a.id), a.json)
    return 0


def cmd_incident_delete(store: Store, a: argparse.Namespace) -> int:
    from app.incidents import set_deleted

    v = set_deleted(store, a.id, True)
    print(f"incident {v.id} deleted (kept as a tombstone; `incident restore {v.id}` undoes it)")
    return 0


def cmd_incident_restore(store: Store, a: argparse.Namespace) -> int:
    from app.incidents import set_deleted

    v = set_deleted(store, a.id, False)
    print(f"incident {v.id} restored")
    return 0


# --- evidence and integrity ----------------------------------------------------------------


def cmd_evidence_add(store: Store, a: argparse.Namespace) -> int:
    from app.evidence import ImportOutcome, import_files

    def progress(done: int, total: int, o: ImportOutcome) -> None:
        if a.json:
            return
        if o.ok and o.evidence is not None:
            dup = " (already stored)" if o.duplicate else ""
            print(f"[{done}/{total}] {Path(o.file).name}: {o.evidence.sha256}{dup}", flush=True)
        else:
            print(f"[{done}/{total}] error: {o.error}", file=sys.stderr, flush=True)

    outcomes = import_files(store, a.incident_id, [Path(f) for f in a.files], progress)
    if a.json:
        _print_json([o.to_json() for o in outcomes], sys.stdout)
    return 0 if outcomes and all(o.ok for o in outcomes) else 1


def cmd_evidence_detach(store: Store, a: argparse.Namespace) -> int:
    from app.evidence import detach_evidence

    ev = detach_evidence(store, a.evidence_id)
    print(f"evidence {ev.id} ({ev.original_name}) detached; its file stays stored")
    return 0


def cmd_evidence_verify(store: Store, a: argparse.Namespace) -> int:
    from app.evidence import verify_evidence

    report = verify_evidence(store)
    if a.json:
        _print_json(report.to_json(), sys.stdout)
    else:
        for p in report.problems:
            print(f"{p.sha256}: {p.problem} (evidence: {', '.join(p.files)})")
        print(
            f"{report.checked} stored files checked: "
            + ("all intact" if report.ok else f"{len(report.problems)} missing or corrupt")
            + (
                f"; {len(report.unreferenced)} not used by any evidence"
                if report.unreferenced
                else ""
            )
        )
    return 0 if report.ok else 1


def cmd_audit_verify(store: Store, a: argparse.Namespace) -> int:
    from app.audit import verify_audit

    report = verify_audit(store)
    if a.json:
        _print_json(
            {"ok": report.ok, "events": report.events, "problems": report.problems}, sys.stdout
        )
    else:
        for p in report.problems:
            print(p)
        print(f"{report.events} audit events: " + ("chain intact" if report.ok else "TAMPERED"))
    return 0 if report.ok else 1


def cmd_demo(store: Store, a: argparse.Namespace) -> int:
    from app.demo import make_demo

    summary = make_demo(store, stations=a.stations, incidents=a.incidents, photos=a.photos)
    print(summary)
    return 0


def cmd_profile(store: Store, a: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from app.profile import get_applicant, set_applicant

    applicant = get_applicant(store)
    changes = {
        k: getattr(a, k) for k in ("full_name", "status", "organization", "phone")
        if getattr(a, k) is not None
    }
    if changes:
        applicant = set_applicant(store, replace(applicant, **changes))
    if a.json:
        _print_json(asdict(applicant), sys.stdout)
    else:
        for key, value in asdict(applicant).items():
            print(f"{key + ':':<14}{value}")
    return 0


# --- complaints, keys and verification -------------------------------------------------------


def _read_password(path: str | None, what: str = "--password-file") -> bytes:
    """A password from a file (first line; the trailing newline an editor adds is dropped)."""
    if path is None:
        raise KuaError(f"{what} is needed")
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise KuaError(f"{path}: cannot read the password file ({exc.strerror or exc})") from exc
    password = raw.splitlines()[0] if raw.strip() else b""
    if not password:
        raise KuaError(f"{path}: the password file is empty")
    return password


def cmd_complaint_export(store: Store, a: argparse.Namespace) -> int:
    from app.complaints import ComplaintDraft, build_complaint, load_pkcs12

    if a.sign and not a.password_file:
        print("error: --sign needs --password-file (see complaint export --help)", file=sys.stderr)
        return 2
    signer = load_pkcs12(Path(a.sign), _read_password(a.password_file)) if a.sign else None
    draft = ComplaintDraft(
        incident_ids=tuple(a.incident_ids),
        lang=a.lang,
        addressee=a.to,
        request=a.request.replace("\\n", "\n") if a.request else None,
        legal_basis=a.legal_basis or "",
        embed_originals=not a.no_originals,
    )
    result = build_complaint(
        store, draft, Path(a.out), signer=signer, timestamp_url=a.timestamp_url
    )
    if result.notice:
        print(f"notice: {result.notice}", file=sys.stderr)
    if a.json:
        _print_json(result.to_json(), sys.stdout)
        return 0
    how = (
        "not signed"
        if result.signer is None
        else f"signed by {result.signer} (PAdES {result.level})"
    )
    files = (
        f"{result.files} original file(s) embedded ({result.originals_size:,} bytes)"
        if result.originals_embedded
        else f"{result.files} file(s) listed, originals not embedded"
    )
    print(f"{result.path}: {result.pages} pages, {how}; {files}")
    print(f"complaint {result.complaint_id}  sha256 {result.sha256}")
    return 0


def cmd_keys_create_ca(store: None, a: argparse.Namespace) -> int:
    from export.keys import CA_CERT, CA_KEY, create_ca

    password = _read_password(a.password_file) if a.password_file else None
    info = create_ca(a.name, Path(a.out), password)
    print(f"team CA {info.subject!r} created in {a.out}")
    print(f"  {CA_CERT}: give it to the commission (verify --trust {CA_CERT})")
    print(f"  {CA_KEY}: keep it offline" + ("" if password else " (NOT encrypted: no password)"))
    print(f"  SHA-256 fingerprint {info.fingerprint}, valid until {info.not_after:%Y-%m-%d}")
    return 0


def cmd_keys_issue(store: None, a: argparse.Namespace) -> int:
    from export.keys import issue_signer

    password = _read_password(a.password_file)
    ca_password = (
        _read_password(a.ca_password_file, "--ca-password-file") if a.ca_password_file else None
    )
    info = issue_signer(
        Path(a.ca), a.name, Path(a.out), password, ca_password, days=a.days
    )
    print(f"{a.out}: signing key and certificate for {info.subject!r}")
    print(f"  SHA-256 fingerprint {info.fingerprint}")
    print(f"  valid {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}")
    return 0


def cmd_verify(store: None, a: argparse.Namespace) -> int:
    """0: valid and covers the whole file; 1: invalid, tampered or extended; 3: not signed."""
    from export.keys import load_pem_certs
    from export.verify import verify_pdf

    trust = load_pem_certs(Path(a.trust)) if a.trust else []
    report = verify_pdf(Path(a.file), trust)
    code = 0 if report.ok else (3 if not report.signed and not report.problems else 1)
    if a.json:
        _print_json(report.to_json() | {"exit_code": code}, sys.stdout)
        return code
    if not report.signed:
        print(f"{a.file}: NOT SIGNED")
    for s in report.signatures:
        print(f"signer:      {s.signer}  (certificate SHA-256 {s.signer_fingerprint})")
        stamp = f"  (timestamp {s.timestamp})" if s.timestamp else ""
        print(f"signed at:   {s.signing_time}{stamp}")
        print(f"level:       PAdES {s.level}")
        intact = s.intact and s.valid
        print("integrity:   " + ("intact" if intact else "BROKEN (changed after signing)"))
        extended = f"NOT the whole file ({s.modified_after} after signing)"
        print("coverage:    " + ("the whole file" if s.whole_file else extended))
        if s.trusted is not None:
            untrusted = f"NOT trusted ({s.trust_problem})"
            print("trust:       " + ("chains to the given CA" if s.trusted else untrusted))
        else:
            print("trust:       not checked (give --trust CA.pem)")
    if not report.manifest_found:
        print("evidence:    no Kuä evidence list in this file")
    for f in report.files:
        mark = "ok " if f.ok else "BAD"
        problem = f"  ({f.problem})" if f.problem else ""
        print(f"  [{mark}] {f.name}  {f.actual_sha256 or f.listed_sha256}{problem}")
    for p in report.problems:
        print(f"problem:     {p}")
    print(f"{a.file}: " + ("VALID" if report.ok else ("NOT SIGNED" if code == 3 else "INVALID")))
    return code


# --- parser --------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # Accepted both before and after the command; SUPPRESS keeps the later one from erasing it.
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help="data folder to use")

    p = _Parser(
        prog="kua",
        description="Kuä: the observers' evidence store. Without a command, opens the app.",
        parents=[common],
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def cmd(parent: Any, name: str, handler: Handler | Callable[..., int], help_: str) -> Any:
        sp = parent.add_parser(name, help=help_, description=help_, parents=[common])
        sp.set_defaults(handler=handler)
        return sp

    def group(name: str, help_: str) -> Any:
        g = sub.add_parser(name, help=help_, description=help_, parents=[common])
        return g.add_subparsers(dest="sub", required=True, parser_class=_Parser, metavar="ACTION")

    st = group("stations", "polling stations of the current election")
    x = cmd(st, "import", cmd_stations_import, "import or update stations from a CSV file")
    x.add_argument("file")
    x = cmd(st, "list", cmd_stations_list, "list stations with their incident counts")
    x.add_argument("--json", action="store_true")

    el = group("election", "elections in this store")
    x = cmd(el, "create", cmd_election_create, "create an election and make it current")
    x.add_argument("name")
    x.add_argument("--date", required=True, help="election day, YYYY-MM-DD")
    x.add_argument("--kind", default="presidential")
    x.add_argument("--profile", default="kz-presidential", help="country profile id")
    x = cmd(el, "list", cmd_election_list, "list elections (* marks the current one)")
    x.add_argument("--json", action="store_true")
    x = cmd(el, "use", cmd_election_use, "make an election current")
    x.add_argument("id")

    x = cmd(sub, "categories", cmd_categories, "list incident categories")
    x.set_defaults(no_store=True)
    x.add_argument("--lang", choices=taxonomy.LANGS, default="en")
    x.add_argument("--json", action="store_true")

    inc = group("incident", "incidents reported from polling stations")
    x = cmd(inc, "add", cmd_incident_add, "log an incident")
    x.add_argument("--station", required=True, help="station code")
    x.add_argument("--category", required=True, help="category key (see `categories`)")
    x.add_argument(
        "--observed-at",
        required=True,
        type=parse_time,
        help="ISO 8601 time, or 'now'; without an offset, this computer's time zone",
    )
    x.add_argument("--text", required=True, help="what happened")
    x.add_argument("--severity", default="minor", choices=sorted(taxonomy.severity_keys()))
    x.add_argument("--witness", action="append", help="a witness (repeat for more)")
    x.add_argument("--reporter", help="who reported it")
    x.add_argument("--photo", action="append", help="a photo to attach (repeat for more)")
    x.add_argument("--json", action="store_true")
    x = cmd(inc, "edit", cmd_incident_edit, "change an incident")
    x.add_argument("id")
    x.add_argument("--text")
    x.add_argument("--status")
    x.add_argument("--category")
    x.add_argument("--severity")
    x.add_argument("--reporter")
    x.add_argument("--station", help="move to another station (code)")
    x.add_argument("--observed-at", type=parse_time)
    x.add_argument("--witness", action="append", help="replaces the witness list (repeat)")
    x.add_argument("--json", action="store_true")
    x = cmd(inc, "list", cmd_incident_list, "list incidents, newest first")
    x.add_argument("--search", help="words to find (prefixes match; any case)")
    x.add_argument("--station", action="append", help="station code (repeatable)")
    x.add_argument("--category", action="append", help="category key (repeatable)")
    x.add_argument("--status", action="append", help="status (repeatable)")
    x.add_argument("--severity", action="append", help="severity (repeatable)")
    x.add_argument("--since", type=parse_time, help="observed at or after this time")
    x.add_argument("--until", type=parse_time, help="observed at or before this time")
    x.add_argument("--limit", type=int)
    x.add_argument("--json", action="store_true")
    x = cmd(inc, "show", cmd_incident_show, "show one incident with its evidence")
    x.add_argument("id")
    x.add_argument("--json", action="store_true")
    x = cmd(inc, "delete", cmd_incident_delete, "delete an incident (kept as a tombstone)")
    x.add_argument("id")
    x = cmd(inc, "restore", cmd_incident_restore, "undo the deletion of an incident")
    x.add_argument("id")

    ev = group("evidence", "photos and files that prove incidents")
    x = cmd(ev, "add", cmd_evidence_add, "attach photos (or folders of photos) to an incident")
    x.add_argument("incident_id")
    x.add_argument("files", nargs="+")
    x.add_argument("--json", action="store_true")
    x = cmd(ev, "detach", cmd_evidence_detach, "detach evidence from its incident")
    x.add_argument("evidence_id")
    x = cmd(ev, "verify", cmd_evidence_verify, "re-hash every stored file; list missing/corrupt")
    x.add_argument("--json", action="store_true")

    au = group("audit", "the tamper-evident log of every change")
    x = cmd(au, "verify", cmd_audit_verify, "check the audit log's hash chain")
    x.add_argument("--json", action="store_true")

    x = cmd(sub, "profile", cmd_profile, "show or set the applicant named in complaints")
    x.add_argument("--full-name")
    x.add_argument("--status", help="observer, proxy, candidate, commission_member or voter")
    x.add_argument("--organization")
    x.add_argument("--phone")
    x.add_argument("--json", action="store_true")

    co = group("complaint", "complaints to election commissions, as signed PDFs")
    x = cmd(co, "export", cmd_complaint_export, "write a complaint PDF about incidents")
    x.add_argument("incident_ids", nargs="+", metavar="INCIDENT_ID")
    x.add_argument("--lang", choices=taxonomy.LANGS, required=True)
    x.add_argument("--out", required=True, help="the PDF file to write")
    x.add_argument("--to", help="addressee (default: the stations' superior commission)")
    x.add_argument("--request", help="what you ask for (default: by category; \\n = new line)")
    x.add_argument("--legal-basis", help="legal references (default: a blank line to fill in)")
    x.add_argument("--no-originals", action="store_true", help="do not embed the original files")
    x.add_argument("--sign", metavar="FILE.p12", help="sign with this PKCS#12 key")
    x.add_argument("--password-file", help="file holding the PKCS#12 password")
    x.add_argument("--timestamp-url", help="RFC 3161 timestamp server (B-T; B-B if it fails)")
    x.add_argument("--json", action="store_true")

    ke = group("keys", "a team CA and signing keys for teams without a national certificate")
    x = cmd(ke, "create-ca", cmd_keys_create_ca, "create a team CA in a new folder")
    x.set_defaults(no_store=True)
    x.add_argument("--name", required=True, help="the CA's name, e.g. the team's")
    x.add_argument("--out", required=True, help="folder for ca-cert.pem and ca-key.pem")
    x.add_argument("--password-file", help="encrypt the CA key with this password")
    x = cmd(ke, "issue", cmd_keys_issue, "issue a signer certificate as a PKCS#12 file")
    x.set_defaults(no_store=True)
    x.add_argument("--ca", required=True, help="the team CA folder")
    x.add_argument("--name", required=True, help="the signer's full name")
    x.add_argument("--out", required=True, help="the .p12 file to write")
    x.add_argument("--password-file", required=True, help="password for the .p12 file")
    x.add_argument("--ca-password-file", help="password of the CA key, if it has one")
    x.add_argument("--days", type=int, default=730, help="validity in days (default 2 years)")

    x = cmd(sub, "verify", cmd_verify, "check a signed complaint PDF and its embedded evidence")
    x.set_defaults(no_store=True)
    x.add_argument("file", metavar="FILE.pdf")
    x.add_argument("--trust", metavar="CA.pem", help="CA certificate(s) to trust")
    x.add_argument("--json", action="store_true")

    from app.sync_cli import add_commands as add_sync_commands

    add_sync_commands(sub, cmd, group)

    from app.cli_protocols import add_commands as add_protocol_commands

    add_protocol_commands(sub, cmd, group)  # protocol, results, discrepancies, export table

    x = cmd(sub, "demo", cmd_demo, "fill the store with a realistic demo election")
    x.add_argument("--stations", type=int, default=40)
    x.add_argument("--incidents", type=int, default=200)
    x.add_argument("--photos", type=int, default=12)
    return p


def write_crash_log(data_dir: Path, exc: BaseException) -> Path:
    """Keep a bug's traceback in the data folder, where the user can find and send it."""
    import traceback

    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"crash-{datetime.now():%Y%m%d-%H%M%S}.log"
    with open(log, "a", encoding="utf-8") as f:
        f.write("".join(traceback.format_exception(exc)))
    return log


def main(argv: Sequence[str], open_app: Callable[[Path], int] | None = None) -> int:
    """Run a command; with no command, open the desktop app (open_app) on the data folder."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        if open_app is None:
            parser.print_help()
            return 2
        return int(open_app(resolve_data_dir(getattr(args, "data_dir", None))))
    if getattr(args, "no_store", False):
        return _run_without_store(handler, args)
    data_dir = resolve_data_dir(getattr(args, "data_dir", None))
    try:
        with Store(data_dir) as store:
            return int(handler(store, args))
    except KuaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:
        if is_environment_error(exc):
            print(f"error: {describe_environment_error(exc, data_dir)}", file=sys.stderr)
            return 1
        log = write_crash_log(data_dir, exc)
        print(f"error: internal error ({type(exc).__name__}); details in {log}", file=sys.stderr)
        return 70
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _reader_gone() -> int:
    """The program reading the output stopped (`incident list | head`): nothing went wrong
    here, so nothing is said. The rest of the output goes nowhere (as Python's docs advise),
    so that flushing it at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


def _run_without_store(handler: Callable[..., int], args: argparse.Namespace) -> int:
    """keys and verify work on files only: no data folder is opened (or created)."""
    from export.errors import ExportError

    try:
        return int(handler(None, args))
    except (KuaError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:
        print(f"error: {describe_environment_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
