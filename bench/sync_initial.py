"""Initial sync: 100k records from the team server into an empty laptop.

Measured twice: from the team snapshot the server keeps ready for joining laptops (its
builder has made it before the clock starts, as it would have on a running server), and page
by page through the merge (a server with --snapshot-step 0: what a laptop with data of its own,
or one facing a server without snapshots, does).

The server's data is generated straight into its database (the wire bodies of one election and
N stations created on another laptop, with UUIDv7 ids as the app makes them, inserted with
SQLAlchemy Core in large batches, numbered in the team's sequence as a push would). The team
server then runs as its own process (`main.py serve`, on loopback, as in production) and an
empty, enrolled laptop runs `sync_once` against it: HTTP, the server's reads, parsing, the merge
and the local writes are all in the figure.

Baseline, same run: a bare SQLAlchemy Core bulk insert of the same rows (the station rows and
their revision rows) into another empty laptop database, in one transaction.

Target: >= 50k records/s; the ratios against the bulk insert are printed.

    python bench/sync_initial.py [--records N] [--rounds N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import operator
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import orjson  # noqa: E402
from sqlalchemy import Engine, insert, select, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.server.admin import add_device, create_team  # noqa: E402
from app.server.api import create_app  # noqa: E402
from app.server.db import open_server_db  # noqa: E402
from app.server.models import Device, StoredRevision, Team  # noqa: E402
from app.store import Store  # noqa: E402
from app.sync.client import (  # noqa: E402
    PULL_PAGE,
    ASGITransport,
    SyncReport,
    _connect,
    _fetch_page,
    _headers,
    enrol,
    load_token,
    sync_once,
)
from app.sync.merge import collector_paused  # noqa: E402
from app.sync.wire import WireRevision  # noqa: E402
from bench._common import verdict  # noqa: E402
from storage.ids import uuid7  # noqa: E402
from storage.models import Election, Revision, Station  # noqa: E402
from storage.timeutil import from_utc_text  # noqa: E402

TARGET_RATE = 50_000  # records/s
URL = "http://server"
BATCH = 10_000


class World:
    """A team server (SQLite, in-process ASGI) with one team; laptops enrol into it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = f"sqlite:///{root / 'server.db'}"
        self.engine: Engine = open_server_db(self.db)
        self.team = "bench"
        create_team(self.db, self.team)
        self.app = create_app(self.engine, root / "server-blobs")
        self.http = httpx.Client(transport=ASGITransport(self.app), base_url=URL)
        self.writer = uuid7()  # the (other) laptop that wrote the data
        self.election = uuid7()
        self._hlc = 1_710_000_000_000
        self.stations: list[str] = []
        self.heads: dict[str, str] = {}  # record -> its latest revision (an edit's parent)

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()

    def laptop(self, name: str) -> Store:
        store = Store(self.root / name)
        enrol(store, URL, add_device(self.db, self.team, name).code, http=self.http)
        return store

    @contextmanager
    def served(self, *options: str) -> Iterator[str]:
        """The team server as its own process on a free loopback port; yields its URL."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        root = Path(__file__).resolve().parents[1]
        blobs = self.root / "server-blobs"
        command = [sys.executable, "main.py", "serve", "--db", self.db, "--blobs", str(blobs)]
        proc = subprocess.Popen(
            [*command, "--port", str(port), *options],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:  # until it answers
                try:
                    if httpx.get(f"{url}/v1/hello", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the team server did not start")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            proc.wait(20)

    def hlc(self) -> str:
        self._hlc += 1
        return f"{self._hlc:013d}-00000-{self.writer}"

    def _body(self, entity: str, record: str, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        rev_id, parent = uuid7(), self.heads.get(record)
        self.heads[record] = rev_id
        return {
            "rev_id": rev_id,
            "entity": entity,
            "record_id": record,
            "op": op,
            "parents": [parent] if parent else [],
            "device_id": self.writer,
            "hlc": self.hlc(),
            "fields": fields,
            "created_at": "2024-03-17T09:30:00.000000Z",
        }

    def creates(self, n: int) -> Iterator[dict[str, Any]]:
        """The wire bodies: the election (once), then n new stations."""
        if not self.stations:
            yield self._body(
                "election",
                self.election,
                "create",
                {
                    "name": "Президентские выборы",
                    "date": "2024-03-17",
                    "kind": "presidential",
                    "country_profile": "kz-presidential",
                    "id": self.election,
                    "deleted": False,
                },
            )
        start = len(self.stations)
        for k in range(start, start + n):
            sid = uuid7()
            self.stations.append(sid)
            yield self._body(
                "station",
                sid,
                "create",
                {
                    "election_id": self.election,
                    "code": f"{k // 1000:02d}-{k % 1000:03d}-{k}",
                    "name": f"УИК № {k}",
                    "region": "Алматы",
                    "district": ("Медеуский", "Бостандыкский", "Ауэзовский")[k % 3],
                    "address": f"ул. Абая {k}",
                    "commission": None,
                    "registered_voters": 1000 + k % 2000,
                    "lat": None,
                    "lon": None,
                    "id": sid,
                    "deleted": False,
                },
            )

    def edits(self, n: int, offset: int = 0) -> Iterator[dict[str, Any]]:
        """n one-field edits of existing stations (spread over the whole list)."""
        step = max(1, len(self.stations) // n)
        for k in range(n):
            sid = self.stations[(offset + k * step) % len(self.stations)]
            yield self._body("station", sid, "update", {"registered_voters": 5000 + k + offset})

    def store_on_server(self, bodies: Iterator[dict[str, Any]]) -> int:
        """Insert wire bodies into the team's sequence, as pushes would; returns how many."""
        done = 0
        with Session(self.engine) as s, s.begin():
            team = s.scalars(select(Team).where(Team.name == self.team)).one()
            device = s.scalars(select(Device.id).where(Device.team_id == team.id)).first()
            if device is None:  # the writer's device row (never used to sync here)
                add_device(self.db, self.team, "writer")
                device = s.scalars(select(Device.id).where(Device.team_id == team.id)).one()
            seq = team.last_seq
            batch: list[dict[str, Any]] = []

            def flush() -> None:
                if batch:
                    s.execute(insert(StoredRevision), batch)
                    batch.clear()

            for body in bodies:
                seq += 1
                batch.append(
                    {
                        "team_id": team.id,
                        "seq": seq,
                        "rev_id": body["rev_id"],
                        "body": body,
                        "pushed_by": device,
                    }
                )
                done += 1
                if len(batch) >= BATCH:
                    flush()
            flush()
            s.execute(update(Team).where(Team.id == team.id).values(last_seq=seq))
        return done


def server_bodies(world: World) -> list[tuple[int, dict[str, Any]]]:
    with Session(world.engine) as s:
        return [
            (seq, body)
            for seq, body in s.execute(
                select(StoredRevision.seq, StoredRevision.body).order_by(StoredRevision.seq)
            )
        ]


Rows = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def as_rows(pairs: list[tuple[int, dict[str, Any]]]) -> Rows:
    """Elections, stations and revision rows, as a sync of these creations would leave them."""
    elections, stations, revisions = [], [], []
    for seq, b in pairs:
        rev = WireRevision.from_json(b)
        row = dict(b["fields"])
        at = from_utc_text(rev.created_at)
        row.update(rev=rev.rev_id, created_at=at, updated_at=at)
        (elections if rev.entity == "election" else stations).append(row)
        revisions.append(
            {
                "rev_id": rev.rev_id,
                "entity": rev.entity,
                "record_id": rev.record_id,
                "op": rev.op,
                "parents": list(rev.parents),
                "device_id": rev.device_id,
                "hlc": rev.hlc,
                "fields": rev.fields,
                "created_at": at,
                "server_seq": seq,
            }
        )
    return elections, stations, revisions


def bulk_insert(store: Store, rows: Rows) -> None:
    elections, stations, revisions = rows
    with store.db.write() as s:
        s.execute(insert(Election), elections)
        for i in range(0, len(stations), BATCH):
            s.execute(insert(Station), stations[i : i + BATCH])
        for i in range(0, len(revisions), BATCH):
            s.execute(insert(Revision), revisions[i : i + BATCH])


def bulk_baseline(world: World, template: Path, into: Path) -> tuple[float, int]:
    """The same rows by a bare Core bulk insert: records and their revisions, one transaction
    (turning the wire bodies into rows is counted)."""
    shutil.copytree(template, into)
    pairs = server_bodies(world)
    store = Store(into)
    try:
        t0 = time.perf_counter()
        rows = as_rows(pairs)
        bulk_insert(store, rows)
        seconds = time.perf_counter() - t0
    finally:
        store.close()
    return seconds, len(rows[1])


def raw_floor(store: Store) -> float:
    """What the sync cannot go below: the same pages downloaded first, then only parsed and
    checked (orjson, WireRevision.from_json) and their rows inserted with plain executemany in
    one transaction per page, with no merge, no lookups and no twins (seconds)."""
    conn = _connect(store, None)
    pages, cursor, more = [], 0, True
    while more:
        content, _ = _fetch_page(conn, cursor, PULL_PAGE)
        page = orjson.loads(content)
        pages.append(content)
        cursor, more = page["cursor"], page["more"]
    conn.close()
    cols = {m.__tablename__: list(m.__table__.columns.keys()) for m in (Election, Station)}  # noqa: SIM118
    row_of = {table: operator.itemgetter(*names) for table, names in cols.items()}
    t0 = time.perf_counter()
    with collector_paused():
        for content in pages:
            items = orjson.loads(content)["revisions"]
            revs = [WireRevision.from_json(item["revision"]) for item in items]
            rows: dict[str, list[tuple[Any, ...]]] = {"station": [], "election": []}
            for r in revs:
                at = r.created_at
                f = {**r.fields, "rev": r.rev_id, "created_at": at, "updated_at": at}
                rows[r.entity].append(row_of[r.entity](f))
            revision_rows = [
                (r.rev_id, r.entity, r.record_id, r.op, "[]", r.device_id, r.hlc,
                 orjson.dumps(r.fields).decode(), r.created_at, 0)
                for r in revs
            ]  # fmt: skip
            with store.db.write(durable=False) as s:
                for table, names in cols.items():
                    if rows[table]:
                        marks = ", ".join("?" * len(names))
                        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
                        s.connection().exec_driver_sql(sql, rows[table])  # type: ignore[arg-type]
                sql = f"INSERT INTO revision VALUES ({', '.join('?' * 10)})"
                s.connection().exec_driver_sql(sql, revision_rows)  # type: ignore[arg-type]
    return time.perf_counter() - t0


def wait_for_snapshot(url: str, store: Store, seq: int) -> tuple[float, dict[str, Any]]:
    """Until the server offers a snapshot covering seq (its builder works in the background
    after start); returns how long that took, and its description."""
    t0 = time.perf_counter()
    headers = _headers(load_token(store))
    while True:
        resp = httpx.get(f"{url}/v1/snapshot", headers=headers, timeout=10)
        if resp.status_code == 200 and resp.json()["seq"] >= seq:
            return time.perf_counter() - t0, resp.json()
        if time.perf_counter() - t0 > 600:
            raise SystemExit(f"no snapshot after 10 min: {resp.text}")
        time.sleep(0.2)


def page_bytes(world: World, url: str) -> str:
    """Megabytes of all pull pages of the team as a laptop pulling everything gets them: on the
    wire (gzip) and unpacked."""
    probe = Store(world.root / "page-probe")
    enrol(probe, url, add_device(world.db, world.team, "page-probe").code)
    wire = raw = cursor = 0
    more = True
    with httpx.Client(base_url=url, headers=_headers(load_token(probe)), timeout=60) as http:
        while more:
            resp = http.get("/v1/pull", params={"after": cursor, "limit": PULL_PAGE})
            page = orjson.loads(resp.content)
            wire, raw = wire + resp.num_bytes_downloaded, raw + len(resp.content)
            cursor, more = page["cursor"], page["more"]
    probe.close()
    return f"{wire / 2**20:.1f} MB on the wire ({raw / 2**20:.1f} MB unpacked)"


def timed_sync(
    world: World, url: str, name: str, profiler: cProfile.Profile | None
) -> tuple[float, SyncReport]:
    laptop = Store(world.root / name)
    enrol(laptop, url, add_device(world.db, world.team, name).code)
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    report = sync_once(laptop)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - t0
    with laptop.db.read() as s:
        have = len(s.scalars(select(Station.id)).all())
    laptop.close()
    assert have == len(world.stations) and report.pulled == len(world.stations) + 1, (
        have,
        report.pulled,
    )
    return seconds, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3, help="best of this many (shared machines)")
    ap.add_argument("--profile", action="store_true", help="print where the pages' time goes")
    a = ap.parse_args()
    profiler = cProfile.Profile() if a.profile else None
    snap_s = pages_s = bulk_s = floor_s = float("inf")
    with tempfile.TemporaryDirectory(prefix="kua-bench-sync-") as tmp:
        root = Path(tmp)
        world = World(root)
        try:
            t0 = time.perf_counter()
            n = world.store_on_server(world.creates(a.records))
            print(f"server: {n} revisions generated in {time.perf_counter() - t0:.1f} s")
            Store(root / "template").close()  # an empty, migrated laptop database
            with world.served() as snap_url, world.served("--snapshot-step", "0") as pages_url:
                probe = world.laptop("probe")
                built, meta = wait_for_snapshot(snap_url, probe, n)
                probe.close()
                print(
                    f"team snapshot ready {built:.1f} s after the server started: "
                    f"{meta['packed'] / 2**20:.1f} MB to download ({meta['size'] / 2**20:.0f} MB "
                    f"database); the same revisions as pages: {page_bytes(world, pages_url)}, "
                    f"{meta['pages'] / 2**20:.1f} MB by the server's estimate"
                )
                for r in range(a.rounds):  # the ways take turns: the same conditions for each
                    seconds, report = timed_sync(world, snap_url, f"snap{r}", None)
                    assert report.snapshot == n, report
                    snap_s = min(snap_s, seconds)
                    seconds, report = timed_sync(world, pages_url, f"pages{r}", profiler)
                    assert report.snapshot == 0 and report.pages > 1, report
                    pages_s, pages = min(pages_s, seconds), report.pages
                    seconds, rows = bulk_baseline(world, root / "template", root / f"bulk{r}")
                    assert rows == a.records
                    bulk_s = min(bulk_s, seconds)
                    floor = Store(root / f"floor{r}")
                    enrol(floor, pages_url, add_device(world.db, world.team, f"floor{r}").code)
                    floor_s = min(floor_s, raw_floor(floor))
                    floor.close()
        finally:
            world.close()
    rate = a.records / snap_s
    print(f"best of {a.rounds}:")
    print(
        f"initial sync from the team snapshot: {a.records} records in {snap_s:.2f} s = "
        f"{rate:,.0f} records/s; ratio sync/bulk: {snap_s / bulk_s:.2f}x"
    )
    print(
        f"initial sync page by page ({pages} pages): {pages_s:.2f} s = "
        f"{a.records / pages_s:,.0f} records/s; ratio sync/bulk: {pages_s / bulk_s:.2f}x"
    )
    print(
        f"bulk insert:  {a.records} records in {bulk_s:.2f} s = {a.records / bulk_s:,.0f} records/s"
    )
    print(
        f"floor of the pages (parse + plain inserts, no merge): {floor_s:.2f} s = "
        f"{a.records / floor_s:,.0f} records/s; ratio pages/floor: {pages_s / floor_s:.2f}x"
    )
    ok = rate >= TARGET_RATE
    print(f"target >= {TARGET_RATE:,} records/s: {verdict(ok)}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        print(out.getvalue())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
