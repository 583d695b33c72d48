"""Sync commands of the command line: sync, conflicts, bundle (a laptop's) and serve, server
(the team server's admin). Registered by app.cli.build_parser; same conventions: exit 0/1/2,
one-line errors on stderr, --json for programs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli import _print_json
from app.errors import InvalidInput
from app.store import Store

SERVER_DB = "sqlite:///server.db"  # the team server's database, unless --db says otherwise


def cmd_sync(store: Store, a: argparse.Namespace) -> int:
    from app.sync.client import enrol, sync_once, sync_status, trust_server_cert

    if a.action == "status":
        st = sync_status(store)
        if a.json:
            _print_json(st.to_json(), sys.stdout)
            return 0
        print(f"server:            {st.server or 'none (not enrolled)'}")
        print(f"team:              {st.team or '-'}")
        print(f"last sync:         {st.last_sync or 'never'}")
        print(f"changes to send:   {st.pending_revisions}")
        print(f"files to send:     {st.pending_uploads}")
        print(f"evidence pending:  {st.evidence_pending}")
        print(f"open conflicts:    {st.open_conflicts}")
        return 0
    if (a.server is None) != (a.enroll is None):
        print("error: --server and --enroll go together (first sync only)", file=sys.stderr)
        return 2
    cert = Path(a.server_cert) if a.server_cert else None
    if a.enroll:
        team = enrol(store, a.server, a.enroll, server_cert=cert)
        if not a.json:
            print(f"enrolled with {a.server} (team {team})")
    elif cert is not None:  # the server's certificate changed: trust the new one
        trust_server_cert(store, cert)
        if not a.json:
            print(f"{cert}: the team server's certificate is trusted from now on")

    def progress(stage: str, done: int, total: int) -> None:
        if not a.json and sys.stderr.isatty():
            if stage == "snapshot":  # bytes of the team's snapshot
                stage, done, total = "team snapshot (MB)", done >> 20, max(1, total >> 20)
            print(f"\r{stage}: {done}" + (f"/{total}" if total else ""), end="", file=sys.stderr)

    report = sync_once(store, progress)
    if a.json:
        _print_json(report.to_json(), sys.stdout)
    else:
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(report.summary())
    return 0


def cmd_conflicts_list(store: Store, a: argparse.Namespace) -> int:
    from app.sync.conflicts import list_conflicts

    rows = list_conflicts(store)
    if a.json:
        _print_json([c.to_json() for c in rows], sys.stdout)
        return 0
    if not rows:
        print("no open conflicts")
    for c in rows:
        print(f"{c.id}  {c.entity} {c.record_id}  {c.what}")
        for cand in c.candidates:
            mark = "*" if cand["rev"] == c.winner_rev else " "
            who = "this laptop" if cand["mine"] else f"device {cand['device'][:8]}"
            value = json.dumps(cand["value"], ensure_ascii=False)
            print(f"  {mark} {who:<16} {cand['at'][:19]}  {value[:100]}")
    return 0


def cmd_conflicts_resolve(store: Store, a: argparse.Namespace) -> int:
    from app.sync.conflicts import resolve_conflict

    take: str | dict[str, str]
    if len(a.take) == 1 and a.take[0] in ("mine", "theirs"):
        take = a.take[0]
    else:
        take = {}
        for item in a.take:
            field, sep, value = item.partition("=")
            if not sep or not field:
                raise InvalidInput(f"--take {item}: say mine, theirs or FIELD=VALUE")
            take[field] = value
    rev = resolve_conflict(store, a.id, take)
    print(f"conflict {a.id} resolved (revision {rev}); it syncs like any change")
    return 0


def cmd_bundle_export(store: Store, a: argparse.Namespace) -> int:
    from app.sync.bundle import export_bundle

    r = export_bundle(store, Path(a.out), for_device=a.for_device)
    if a.json:
        _print_json(r.to_json(), sys.stdout)
    else:
        print(f"{r.path}: {r.revisions} changes and {r.blobs} files ({r.size:,} bytes)")
    return 0


def cmd_bundle_import(store: Store, a: argparse.Namespace) -> int:
    from app.sync.bundle import import_bundle

    r = import_bundle(store, Path(a.file))
    if a.json:
        _print_json(r.to_json(), sys.stdout)
    else:
        checked = (
            "signed by a laptop of your team"
            if r.verified
            else "NOT verified (this laptop or the one that made it has no team key)"
        )
        print(
            f"{a.file}: {r.new} new changes ({r.known} already here), {r.blobs} new files; "
            f"{r.conflicts} open conflicts; {checked}"
        )
    return 0


def cmd_serve(store: None, a: argparse.Namespace) -> int:
    from app.server.admin import serve

    serve(
        a.db,
        Path(a.blobs),
        a.host,
        a.port,
        Path(a.tls_cert) if a.tls_cert else None,
        Path(a.tls_key) if a.tls_key else None,
        a.max_body,
        a.snapshot_step,
    )
    return 0


def cmd_server_team_create(store: None, a: argparse.Namespace) -> int:
    from app.server.admin import create_team

    print(f"team {create_team(a.db, a.name)!r} created")
    return 0


def cmd_server_device_add(store: None, a: argparse.Namespace) -> int:
    from app.server.admin import add_device

    e = add_device(a.db, a.team, a.name)
    if a.json:
        _print_json(
            {"team": e.team, "device": e.device, "code": e.code, "expires": e.expires}, sys.stdout
        )
    else:
        print(f"device {e.device!r} added to team {e.team!r}")
        print(f"enrolment code (one use, until {e.expires}): {e.code}")
    return 0


def cmd_server_device_revoke(store: None, a: argparse.Namespace) -> int:
    from app.server.admin import revoke_device

    revoke_device(a.db, a.team, a.name)
    print(f"device {a.name!r} of team {a.team!r} revoked: its token is refused from now on")
    return 0


def add_commands(sub: Any, cmd: Any, group: Any) -> None:
    """Register the sync commands on the main parser (cmd/group are app.cli's helpers)."""
    x = cmd(sub, "sync", cmd_sync, "sync with the team server (first time: --server --enroll)")
    x.add_argument("action", nargs="?", choices=("status",), help="status: what is waiting")
    x.add_argument("--server", help="the team server's URL, e.g. https://team.example.org")
    x.add_argument("--enroll", metavar="CODE", help="one-time enrolment code from the admin")
    x.add_argument(
        "--server-cert",
        metavar="FILE.pem",
        help="trust only this certificate (the server's or its CA's) for a team's own server: "
        "with --enroll, or later when the server's certificate changes",
    )
    x.add_argument("--json", action="store_true")

    co = group("conflicts", "the same thing changed on two laptops: review and decide")
    x = cmd(co, "list", cmd_conflicts_list, "list open conflicts (* marks the value shown now)")
    x.add_argument("--json", action="store_true")
    x = cmd(co, "resolve", cmd_conflicts_resolve, "decide a conflict")
    x.add_argument("id")
    x.add_argument(
        "--take",
        nargs="+",
        required=True,
        metavar="mine|theirs|FIELD=VALUE",
        help="keep this laptop's value, the other laptop's, or give the values",
    )

    bu = group("bundle", "exchange changes on a USB stick when there is no network")
    x = cmd(bu, "export", cmd_bundle_export, "write a bundle of this laptop's data")
    x.add_argument("--out", required=True, help="the bundle file to write (.kua)")
    x.add_argument(
        "--for-device",
        metavar="ID",
        help="leave out what that device has: what it wrote, and what its last bundle here "
        "shows it has from the team server",
    )
    x.add_argument("--json", action="store_true")
    x = cmd(bu, "import", cmd_bundle_import, "merge a bundle from another laptop")
    x.add_argument("file")
    x.add_argument("--json", action="store_true")

    x = cmd(sub, "serve", cmd_serve, "run the team server")
    x.set_defaults(no_store=True)
    x.add_argument("--db", default=SERVER_DB, help="database URL (SQLite/PostgreSQL)")
    x.add_argument("--blobs", required=True, help="folder for the teams' evidence files")
    x.add_argument("--host", default="127.0.0.1")
    x.add_argument("--port", type=int, default=8765)
    x.add_argument("--tls-cert", help="certificate (PEM) for HTTPS")
    x.add_argument("--tls-key", help="its private key (PEM)")
    x.add_argument("--max-body", type=int, help=argparse.SUPPRESS)
    x.add_argument(
        "--snapshot-step",
        type=int,
        metavar="N",
        help="make a team's snapshot for joining laptops each N revisions (default 1000; 0: "
        "never)",
    )

    srv = group("server", "the team server's teams and devices (admin)")
    te = srv.add_parser("team", help="teams").add_subparsers(dest="sub2", required=True)
    x = cmd(te, "create", cmd_server_team_create, "create a team")
    x.set_defaults(no_store=True)
    x.add_argument("name")
    x.add_argument("--db", default=SERVER_DB)
    de = srv.add_parser("device", help="devices").add_subparsers(dest="sub2", required=True)
    x = cmd(de, "add", cmd_server_device_add, "add a device; prints its one-time enrolment code")
    x.set_defaults(no_store=True)
    x.add_argument("--team", required=True)
    x.add_argument("--name", required=True, help="a label, e.g. the team lead's name")
    x.add_argument("--db", default=SERVER_DB)
    x.add_argument("--json", action="store_true")
    x = cmd(de, "revoke", cmd_server_device_revoke, "revoke a device (lost or seized laptop)")
    x.set_defaults(no_store=True)
    x.add_argument("--team", required=True)
    x.add_argument("--name", required=True)
    x.add_argument("--db", default=SERVER_DB)
