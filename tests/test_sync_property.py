"""Property: whatever laptops do offline and however their changes travel (pushes and pulls on
their own or together, bundles between any two, bundles imported twice, out of order or cut
off on the way), once everyone has
synced, every copy holds the same records and the same open conflicts, and no value anyone
saved is lost (each stays the current value, a conflict candidate, or in the history). A
laptop that joins with nothing then starts from the team snapshot and holds the same.

The server runs in-process (its ASGI app over httpx) for speed; test_sync.py runs a real one."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import KuaError
from app.incidents import edit_incident, set_deleted
from app.server.admin import add_device, create_team
from app.server.api import create_app
from app.server.db import open_server_db
from app.server.models import Team
from app.server.snapshots import Snapshots
from app.store import Store
from app.sync import client as sync_client
from app.sync.bundle import BundleError, export_bundle, import_bundle
from app.sync.client import ASGITransport, enrol, sync_once
from app.sync.conflicts import list_conflicts, resolve_conflict
from storage.models import Revision, SyncConflict
from tests.sync_helpers import incident, laptop, snapshot

REPLICAS = 7
FIELDS = ("description", "status", "reporter")
STATUSES = ("new", "verified", "closed", "rejected")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("property")
    db = f"sqlite:///{root / 'server.db'}"
    engine = open_server_db(db)
    # No builder thread in process: the test makes each team's snapshot when it wants one.
    snaps = Snapshots(engine, root / "snapshots", step=1)
    http = httpx.Client(
        transport=ASGITransport(create_app(engine, root / "blobs", snapshots=snaps)),
        base_url="http://server",
    )
    Store(root / "template").close()  # a migrated empty store, copied for every laptop
    yield db, http, root / "template" / "kua.db", engine, snaps
    http.close()
    engine.dispose()


op = st.one_of(
    st.tuples(
        st.just("edit"), st.integers(0, REPLICAS - 1), st.integers(0, 20), st.sampled_from(FIELDS)
    ),
    st.tuples(st.just("delete"), st.integers(0, REPLICAS - 1), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("create"), st.integers(0, REPLICAS - 1)),
    st.tuples(st.sampled_from(("sync", "push", "pull")), st.integers(0, REPLICAS - 1)),
    st.tuples(
        st.just("bundle"),
        st.integers(0, REPLICAS - 1),
        st.integers(0, REPLICAS - 1),
        st.sampled_from(("once", "again", "cut")),
    ),
    st.tuples(
        st.just("resolve"), st.integers(0, REPLICAS - 1), st.sampled_from(("mine", "theirs"))
    ),
)

_teams = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=5, max_size=40), replicas=st.integers(3, REPLICAS))
def test_replicas_converge_and_lose_nothing(
    world: Any, ops: list[tuple[Any, ...]], replicas: int
) -> None:
    db, http, template, engine, snaps = world
    team = f"prop-{next(_teams)}"
    create_team(db, team)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stores: list[Store] = []
        for n in range(replicas):
            (root / f"r{n}").mkdir()
            shutil.copy(template, root / f"r{n}" / "kua.db")
            store = laptop(root, f"r{n}")  # each imports the same station list
            enrol(store, "http://server", add_device(db, team, f"r{n}").code, http=http)
            stores.append(store)
        try:
            _run(stores, ops, http, root)
            # A laptop joins with nothing: it starts from the team snapshot, and is the same.
            with Session(engine) as s:
                team_id = s.scalars(select(Team.id).where(Team.name == team)).one()
            assert snaps.refresh(team_id) is not None
            (root / "joined").mkdir()
            shutil.copy(template, root / "joined" / "kua.db")
            joined = Store(root / "joined")
            stores.append(joined)
            enrol(joined, "http://server", add_device(db, team, "joined").code, http=http)
            assert sync_once(joined, http=http).snapshot > 0
            assert snapshot(joined) == snapshot(stores[0])
        finally:
            for s in stores:
                s.close()


def _run(stores: list[Store], ops: list[tuple[Any, ...]], http: httpx.Client, root: Path) -> None:
    counter = itertools.count()
    saved: list[str] = []  # every text value anyone saved
    ids = [incident(stores[0], "первый")]
    saved.append("первый")
    bundles: dict[int, list[Path]] = {}

    for step in ops:
        kind, r = step[0], stores[step[1] % len(stores)]
        try:
            if kind == "edit":
                field = step[3]
                value = STATUSES[next(counter) % 4] if field == "status" else f"v{next(counter)}"
                edit_incident(r, ids[step[2] % len(ids)], **{field: value})
                if field != "status":
                    saved.append(value)
            elif kind == "delete":
                set_deleted(r, ids[step[2] % len(ids)], step[3])
            elif kind == "create":
                text = f"new{next(counter)}"
                ids.append(incident(r, text, station="75-00" + str(1 + len(ids) % 3)))
                saved.append(text)
            elif kind == "sync":
                sync_once(r, http=http)
            elif kind in ("push", "pull"):
                half = sync_client.push if kind == "push" else sync_client.pull
                half(r, sync_client._connect(r, http), lambda stage, done, total: None)
            elif kind == "bundle":
                src = step[1] % len(stores)
                dst = stores[step[2] % len(stores)]
                path = root / f"b{next(counter)}.kua"
                export_bundle(stores[src], path)
                bundles.setdefault(src, []).append(path)
                if step[3] == "cut":  # cut off while copying: refused, nothing changes
                    cut = path.with_suffix(".cut")
                    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
                    before = snapshot(dst)
                    with pytest.raises(BundleError):
                        import_bundle(dst, cut)
                    assert snapshot(dst) == before
                    continue
                import_bundle(dst, path)
                if step[3] == "again":  # again, and an older one after it
                    import_bundle(dst, path)
                    import_bundle(dst, bundles[src][0])
            elif kind == "resolve":
                open_ = list_conflicts(r)
                if open_:
                    resolve_conflict(r, open_[0].id, step[2])
        except KuaError as exc:  # a record this laptop has not received yet, or deleted here
            assert "no such" in str(exc) or "no candidate" in str(exc), exc

    for _ in range(2):  # everyone online at last
        for s in stores:
            sync_once(s, http=http)
    first = snapshot(stores[0])
    for s in stores[1:]:
        assert snapshot(s) == first
    for s in stores:
        with s.db.read() as ses:
            history = {
                v
                for rev in ses.scalars(select(Revision))
                for v in rev.fields.values()
                if isinstance(v, str)
            }
            candidates = {
                c["value"]
                for row in ses.scalars(select(SyncConflict))
                for c in row.candidates
                if isinstance(c["value"], str)
            }
        current = {
            v
            for rows in first.values()
            if isinstance(rows, list)
            for row in rows
            if isinstance(row, dict)
            for v in row.values()
            if isinstance(v, str)
        }
        for value in saved:
            assert value in history | candidates | current, value
