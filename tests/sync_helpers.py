"""Helpers shared by the sync tests: a team server in a child process, laptops (stores) with a
little data, and their comparison."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.elections import create_election, import_stations
from app.incidents import IncidentDraft, add_incident
from app.store import Store
from storage.models import SYNCED_MODELS, Evidence, SyncConflict

ROOT = Path(__file__).parent.parent

STATIONS_CSV = (
    "code,name,region,district,address\n"
    "75-001,УИК 1,Алматы,Медеуский,ул. Абая 1\n"
    "75-002,УИК 2,Алматы,Медеуский,ул. Абая 2\n"
    "75-003,УИК 3,Алматы,Бостандыкский,ул. Сатпаева 3\n"
)


def laptop(root: Path, name: str, *, election: bool = True) -> Store:
    store = Store(root / name)
    if election:
        create_election(store, "Президентские выборы", "2024-03-17")
        csv = root / f"{name}-stations.csv"
        csv.write_text(STATIONS_CSV, encoding="utf-8")
        import_stations(store, csv)
    return store


def incident(store: Store, text: str, station: str = "75-001") -> str:
    draft = IncidentDraft(
        station_code=station,
        category="carousel",
        observed_at=datetime(2024, 3, 17, 9, 30, tzinfo=UTC),
        description=text,
    )
    return add_incident(store, draft).id


def attach_bytes(store: Store, incident_id: str, data: bytes, name: str = "photo.jpg") -> str:
    """Evidence with arbitrary bytes (the sync does not care what a file is)."""
    sha = store.blobs.put_bytes(data)
    with store.db.write() as s:
        s.add(
            Evidence(
                incident_id=incident_id,
                sha256=sha,
                original_name=name,
                mime="image/jpeg",
                size=len(data),
            )
        )
    return sha


def snapshot(store: Store) -> dict[str, Any]:
    """Every synced record (bookkeeping aside) and every open conflict, comparable across copies."""
    out: dict[str, Any] = {}
    with store.db.read() as s:
        for model in SYNCED_MODELS:
            rows = []
            for obj in s.scalars(select(model)):
                row = {
                    c.key: getattr(obj, c.key)
                    for c in model.__table__.columns  # type: ignore[attr-defined]
                    if c.key not in ("num", "updated_at")
                }
                rows.append(json.loads(json.dumps(row, default=str, sort_keys=True)))
            out[model.__tablename__] = sorted(rows, key=lambda r: r["id"])  # type: ignore[attr-defined]
        out["conflicts"] = sorted(
            (c.id, c.field, c.winner_rev, json.dumps(c.candidates, sort_keys=True))
            for c in s.scalars(select(SyncConflict))
        )
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_bytes(n: int, seed: int) -> bytes:
    out = bytearray()
    block = seed.to_bytes(8, "big")
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def server_db(root: Path) -> str:
    """The team server's database for a test module: SQLite in root, or, when KUA_TEST_PG_URL
    is set (.ci/run starts a PostgreSQL for it), that database emptied for this module."""
    db = os.environ.get("KUA_TEST_PG_URL")
    if not db:
        return f"sqlite:///{root / 'server.db'}"
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(root: Path, db: str, *options: str,
                   tls: tuple[Path, Path] | None = None,
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The team server (main.py serve, blobs in root/blobs, output in root/server.log) on a free
    loopback port: (its URL, its process) once it answers; stopped on exit if still running.
    tls: (certificate, key) PEM files to serve https:// with."""
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    if tls is not None:
        options += ("--tls-cert", str(tls[0]), "--tls-key", str(tls[1]))
    with open(root / "server.log", "w+b") as log:
        proc = subprocess.Popen(
            [sys.executable, "main.py", "serve", "--db", db, "--blobs", str(root / "blobs"),
             "--port", str(port), *options],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # until it answers (polling, not a fixed sleep)
            try:
                # Only whether it answers: tests of TLS check the certificate themselves.
                if httpx.get(f"{url}/v1/hello", timeout=2, verify=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the server did not start: {log.read().decode()[-2000:]}")
            time.sleep(0.05)
        try:
            yield url, proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)


def published(url: str, store: Store) -> dict[str, Any] | None:
    """The team snapshot the server at url offers this laptop now (None: none)."""
    from app.sync.client import _headers, load_token

    resp = httpx.get(f"{url}/v1/snapshot", headers=_headers(load_token(store)))
    return None if resp.status_code == 404 else dict(resp.json())


def wait_for_snapshot(url: str, store: Store, step: int) -> dict[str, Any]:
    """Until the server has made the snapshot it makes of what store has synced (in the
    background after pushes: one that lags less than step revisions behind)."""
    from app.store import get_setting
    from app.sync.client import CURSOR_KEY

    with store.db.read() as s:
        want = int(get_setting(s, CURSOR_KEY, 0))
    deadline = time.monotonic() + 60
    while True:
        meta = published(url, store)
        if meta is not None and want - meta["seq"] < step:
            return meta
        assert time.monotonic() < deadline, f"no snapshot near seq {want}: {meta}"
        time.sleep(0.05)
