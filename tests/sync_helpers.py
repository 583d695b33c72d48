"""Helpers shared by the sync tests: laptops (stores) with a little data, and their comparison."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.elections import create_election, import_stations
from app.incidents import IncidentDraft, add_incident
from app.store import Store
from storage.models import SYNCED_MODELS, Evidence, SyncConflict

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
