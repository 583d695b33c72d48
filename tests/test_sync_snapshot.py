"""An empty laptop's first sync starts from the team's snapshot, made by a real team server
process (uvicorn on loopback) in the background; anything wrong with it means pages instead.

Set KUA_TEST_PG_URL (postgresql+psycopg://...) to run the server on PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from app.incidents import IncidentFilter, edit_incident, list_incidents
from app.server.admin import add_device, create_team
from app.server.api import create_app
from app.server.db import open_server_db
from app.server.models import StoredRevision, Team
from app.server.snapshots import SUFFIX, Snapshots
from app.store import Store
from app.sync import client as sync_client
from app.sync import snapshot as sync_snapshot
from app.sync import wire
from app.sync.client import ASGITransport, SyncError, enrol, sync_once, sync_status
from app.sync.merge import MERGE_VERSION
from tests.sync_helpers import (
    attach_bytes,
    incident,
    laptop,
    published,
    random_bytes,
    running_server,
    server_db,
    snapshot,
    wait_for_snapshot,
)
from tests.sync_proxy import Action, FaultProxy

STEP = 20  # the test server makes a snapshot every 20 revisions


@dataclass
class Server:
    url: str
    db: str
    root: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    db = server_db(root)
    with running_server(root, db, "--snapshot-step", str(STEP)) as (url, _proc):
        yield Server(url, db, root)


_teams = iter(range(10**6))


@pytest.fixture
def team(server: Server, tmp_path: Path) -> Iterator[Any]:
    """join(label, election=...) -> a laptop enrolled in this test's own team."""
    name = f"team-{next(_teams)}"
    create_team(server.db, name)
    stores: list[Store] = []

    def join(label: str, *, election: bool = True, url: str | None = None) -> Store:
        store = laptop(tmp_path, label, election=election)
        enrol(store, url or server.url, add_device(server.db, name, label).code)
        stores.append(store)
        return store

    yield join
    for s in stores:
        s.close()


def busy_team(join: Any) -> tuple[Store, Store, str]:
    """Two laptops of a team with incidents, an evidence file and an open conflict, synced."""
    a, b = join("a"), join("b")
    ids = [incident(a, f"Карусель у участка {n}, әкімдік автобусы") for n in range(12)]
    photo = random_bytes(50_000, seed=7)
    attach_bytes(a, ids[0], photo)
    for s in (a, b, a, b):
        sync_once(s)
    edit_incident(a, ids[1], description="версия A")
    edit_incident(b, ids[1], description="версия B")
    for s in (a, b, a, b):
        sync_once(s)
    assert sync_status(a).open_conflicts == 1
    return a, b, ids[1]


def test_an_empty_laptop_starts_from_the_team_snapshot(server: Server, team: Any) -> None:
    a, b, disputed = busy_team(team)
    meta = wait_for_snapshot(server.url, a, STEP)
    c = team("c", election=False)
    report = sync_once(c)
    assert report.snapshot > 0
    with c.db.read() as s:
        assert sync_client.get_setting(s, sync_client.CURSOR_KEY) >= meta["seq"] >= STEP
    assert snapshot(c) == snapshot(a)  # the same records and the same open conflict
    assert sync_status(c).pending_revisions == 0  # nothing of the server's own to send
    assert sync_status(c).open_conflicts == 1
    assert report.downloaded == 1 and sync_status(c).evidence_pending == 0
    # The full-text index came too (one of the twelve now says "версия A" or "версия B").
    assert len(list_incidents(c, IncidentFilter(search="ӘКІМДІК"))) == 11
    assert len(list_incidents(c, IncidentFilter(search="верс"))) == 1
    assert not list((c.data_dir / "incoming").glob("snapshot-*"))
    # It is an ordinary copy from then on: its edits reach the others.
    edit_incident(c, disputed, description="решено на третьем ноутбуке")
    for s in (c, a, b):
        sync_once(s)
    assert snapshot(a) == snapshot(b) == snapshot(c)


def test_the_changes_after_the_snapshot_come_as_pages(server: Server, team: Any) -> None:
    a, b, _ = busy_team(team)
    wait_for_snapshot(server.url, a, STEP)
    for n in range(3):  # fewer than STEP: no new snapshot for these
        incident(b, f"после снимка {n}")
    sync_once(b)
    sync_once(a)
    c = team("c", election=False)
    report = sync_once(c)
    assert report.snapshot > 0 and report.pulled > report.snapshot
    assert snapshot(c) == snapshot(a) == snapshot(b)


def test_a_laptop_with_records_of_its_own_pulls_pages(server: Server, team: Any) -> None:
    a, b, _ = busy_team(team)
    wait_for_snapshot(server.url, a, STEP)
    c = team("c")  # made its own election and stations before it joined
    report = sync_once(c)
    assert report.snapshot == 0
    sync_once(a)
    assert snapshot(c) == snapshot(a)


def test_a_damaged_snapshot_is_not_taken(server: Server, team: Any) -> None:
    a, _, _ = busy_team(team)
    meta = wait_for_snapshot(server.url, a, STEP)
    [path] = (server.root / "blobs" / ".snapshots").glob(f"team-*-{meta['sha256']}{SUFFIX}")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    c = team("c", election=False)
    report = sync_once(c)
    assert report.snapshot == 0 and report.pulled > 0
    assert snapshot(c) == snapshot(a)
    assert not list((c.data_dir / "incoming").glob("snapshot-*"))


def test_an_interrupted_download_continues_where_it_stopped(
    server: Server, team: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _, _ = busy_team(team)
    meta = wait_for_snapshot(server.url, a, STEP)
    monkeypatch.setattr(wire, "MAX_SNAPSHOT_CHUNK", 4096)
    offsets: list[int] = []
    real_call = sync_client.Connection.call

    def cut(self: sync_client.Connection, method: str, path: str, **kw: Any) -> Any:
        if path.startswith("/v1/snapshot/"):
            offsets.append(kw["params"]["offset"])
            if len(offsets) == 3:
                raise SyncError("the network went away", "unreachable")
        return real_call(self, method, path, **kw)

    monkeypatch.setattr(sync_client.Connection, "call", cut)
    c = team("c", election=False)
    with pytest.raises(SyncError):
        sync_once(c)
    part = c.data_dir / "incoming" / f"snapshot-{meta['sha256']}.part"
    assert part.stat().st_size == 2 * 4096  # two pieces arrived, nothing was applied
    assert sync_status(c).open_conflicts == 0
    report = sync_once(c)
    assert offsets[3] == 2 * 4096  # went on from there
    assert report.snapshot > 0 and snapshot(c) == snapshot(a)


@pytest.mark.parametrize(("delay", "taken"), [(0.0, True), (3.0, False)], ids=["fast", "slow"])
def test_a_slow_link_takes_the_pages_when_they_are_fewer_bytes(
    server: Server, team: Any, monkeypatch: pytest.MonkeyPatch, delay: float, taken: bool
) -> None:
    """The first piece of a big team's snapshot is timed: over a link too slow for the extra
    bytes to pay off, the laptop pulls the pages instead. (The team is small; the laptop is
    told to weigh it as big, and to merge pages slowly.)"""
    a, _, _ = busy_team(team)
    meta = wait_for_snapshot(server.url, a, STEP)
    assert meta["packed"] > 2 * meta["pages"] > 0  # the snapshot is the bigger download
    monkeypatch.setattr(sync_snapshot, "SMALL", 0)
    monkeypatch.setattr(sync_snapshot, "PAGES_PER_S", 100)
    with FaultProxy(int(server.url.rsplit(":", 1)[1])) as proxy:
        proxy.reset(lambda req: Action(delay=delay if req.is_("GET", "/v1/snapshot/") else 0))
        c = team("c", election=False, url=proxy.url)
        report = sync_once(c)
    assert (report.snapshot > 0) is taken
    assert snapshot(c) == snapshot(a)
    pieces = [e for e in proxy.log if e.request.is_("GET", "/v1/snapshot/")]
    assert len(pieces) == 1 and "length=1048576" in pieces[0].request.query  # the probe
    assert not list((c.data_dir / "incoming").glob("snapshot-*"))


@pytest.mark.parametrize(
    ("name", "value"),
    [("head_revision", lambda: "9999"), ("MERGE_VERSION", 2)],
    ids=["newer-schema", "newer-merge"],
)
def test_a_snapshot_made_by_another_version_is_not_taken(
    server: Server, team: Any, monkeypatch: pytest.MonkeyPatch, name: str, value: Any
) -> None:
    a, _, _ = busy_team(team)
    wait_for_snapshot(server.url, a, STEP)
    monkeypatch.setattr(sync_snapshot, name, value)  # this laptop is a newer app
    c = team("c", election=False)
    report = sync_once(c)
    assert report.snapshot == 0
    assert snapshot(c) == snapshot(a)


def opened(published: Path) -> sqlite3.Connection:
    """A published snapshot, decompressed beside it and opened."""
    database = published.with_name(published.name + ".db")
    database.write_bytes(zlib.decompress(published.read_bytes()))
    return sqlite3.connect(database)


def test_a_replica_of_another_merge_is_merged_anew(tmp_path: Path) -> None:
    """In process: a replica made by another merge version is thrown away and merged from the
    first revision; of the published files, only the newest two are kept."""
    engine = open_server_db(f"sqlite:///{tmp_path / 'server.db'}")
    create_team(f"sqlite:///{tmp_path / 'server.db'}", "t")
    snaps = Snapshots(engine, tmp_path / "snapshots", step=1)
    app = create_app(engine, tmp_path / "blobs", snapshots=snaps)
    a = laptop(tmp_path, "a")
    try:
        with httpx.Client(transport=ASGITransport(app), base_url="http://server") as http:
            code = add_device(f"sqlite:///{tmp_path / 'server.db'}", "t", "a").code
            enrol(a, "http://server", code, http=http)
            published_files = []
            for n in range(3):
                incident(a, f"инцидент {n}")
                sync_once(a, http=http)
                info = snaps.refresh(1)
                assert info is not None and info.merge == MERGE_VERSION
                published_files.append(info.sha256)
            kept = sorted(p.name for p in (tmp_path / "snapshots").glob(f"team-1-*{SUFFIX}"))
            assert kept == sorted(f"team-1-{h}{SUFFIX}" for h in published_files[-2:])
            # The replica as an older merge left it: a wrong station name, another version.
            replica = sqlite3.connect(tmp_path / "snapshots" / "team-1.replica" / "kua.db")
            with replica:
                replica.execute("UPDATE station SET name = 'испорчено'")
                replica.execute("UPDATE setting SET value = '0' WHERE key = 'replica_merge'")
            replica.close()
            incident(a, "ещё один")
            sync_once(a, http=http)
            info = snaps.refresh(1)
            assert info is not None
            taken = opened(tmp_path / "snapshots" / f"team-1-{info.sha256}{SUFFIX}")
            names = {n for (n,) in taken.execute("SELECT name FROM station")}
            taken.close()
            assert names == {"УИК 1", "УИК 2", "УИК 3"}
            # The server's database restored from an older backup: the replica starts again.
            assert snaps.due() == []
            with Session(engine) as s, s.begin():
                s.execute(delete(StoredRevision).where(StoredRevision.seq > 4))
                s.execute(update(Team).values(last_seq=4))
            assert snaps.due() == [1]
            info = snaps.refresh(1)
            assert info is not None and info.seq == 4
            taken = opened(tmp_path / "snapshots" / f"team-1-{info.sha256}{SUFFIX}")
            assert taken.execute("SELECT max(server_seq) FROM revision").fetchone() == (4,)
            taken.close()
            # A published file cut short (a crash while it was written) is not offered.
            cut = tmp_path / "snapshots" / f"team-1-{info.sha256}{SUFFIX}"
            cut.write_bytes(cut.read_bytes()[:100])
            assert snaps.current(1) is None and snaps.due() == [1]
    finally:
        a.close()
        engine.dispose()


def test_another_team_cannot_fetch_a_snapshot(server: Server, team: Any) -> None:
    a, _, _ = busy_team(team)
    meta = wait_for_snapshot(server.url, a, STEP)
    create_team(server.db, "strangers")
    stranger = Store(a.data_dir.parent / "stranger")
    try:
        enrol(stranger, server.url, add_device(server.db, "strangers", "x").code)
        assert published(server.url, stranger) is None
        headers = sync_client._headers(sync_client.load_token(stranger))
        resp = httpx.get(f"{server.url}/v1/snapshot/{meta['sha256']}", headers=headers)
        assert resp.status_code == 404 and resp.json()["error"] == "no_such_snapshot"
        assert httpx.get(f"{server.url}/v1/snapshot").status_code in (401, 426)
    finally:
        stranger.close()
