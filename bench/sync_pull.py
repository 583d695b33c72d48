"""Pulling 100 new changes into a laptop that already holds 100k synced records, vs one with 1k.

For each size, a team server (in-process ASGI, SQLite) holds one election and N stations written
by another laptop; an enrolled laptop already has all of them (its database is filled with the
rows a sync of those creations leaves — checked against a real sync at the small size — so the
setup takes seconds, not minutes). Then, in each of several rounds, the other laptop's 100 edits
of existing stations (spread over the whole list) reach the server, and the laptop's `sync_once`
(push nothing, pull 100, no files) is timed. Best of the rounds.

Target: time at 100k / time at 1k <= 1.3.

    python bench/sync_pull.py [--small N] [--large N] [--changes N] [--rounds R]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from app.store import Store, set_setting  # noqa: E402
from app.sync import client as sync_client  # noqa: E402
from app.sync.client import sync_once  # noqa: E402
from bench._common import verdict  # noqa: E402
from bench.sync_initial import World, as_rows, bulk_insert, server_bodies  # noqa: E402
from storage.models import Revision, Station  # noqa: E402

RATIO = 1.3


def synced_laptop(world: World, name: str, real: bool) -> Store:
    """A laptop holding everything on the server, as if it had synced it."""
    store = world.laptop(name)
    if real:
        sync_once(store, http=world.http)
        return store
    pairs = server_bodies(world)
    bulk_insert(store, as_rows(pairs))
    with store.db.write() as s:
        set_setting(s, sync_client.CURSOR_KEY, pairs[-1][0])
    return store


def state(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with store.db.read() as s:
        stations = [
            (r.id, r.code, r.registered_voters, r.rev, r.deleted, r.created_at)
            for r in s.scalars(select(Station).order_by(Station.id))
        ]
        revisions = [
            (r.rev_id, r.server_seq, r.hlc, r.parents)
            for r in s.scalars(select(Revision).order_by(Revision.rev_id))
        ]
    return stations, revisions


def measure(records: int, changes: int, rounds: int, check: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="kua-bench-pull-") as tmp:
        world = World(Path(tmp))
        try:
            world.store_on_server(world.creates(records))
            t0 = time.perf_counter()
            laptop = synced_laptop(world, "laptop", real=False)
            setup = time.perf_counter() - t0
            if check:  # the shortcut leaves what a real sync leaves
                real = synced_laptop(world, "real", real=True)
                assert state(real) == state(laptop), "bulk setup differs from a real sync"
                real.close()
            best = float("inf")
            for r in range(rounds):
                world.store_on_server(world.edits(changes, offset=r))
                t0 = time.perf_counter()
                report = sync_once(laptop, http=world.http)
                best = min(best, time.perf_counter() - t0)
                assert report.pulled == changes and report.conflicts == 0, report
            with laptop.db.read() as s:
                assert len(s.scalars(select(Station.id)).all()) == records
            laptop.close()
        finally:
            world.close()
    print(
        f"  {records:>7} records synced: pull {changes} changes in {best * 1000:7.1f} ms "
        f"(best of {rounds}; setup {setup:.1f} s)"
    )
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    small = measure(a.small, a.changes, a.rounds, check=True)
    large = measure(a.large, a.changes, a.rounds, check=False)
    ratio = large / small
    ok = ratio <= RATIO
    print(
        f"ratio {a.large} / {a.small}: {ratio:.2f}x (target <= {RATIO}x): "
        f"{verdict(ok)}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
