"""Conflicts for people: the same field changed on two laptops, or a record deleted on one while
edited on another. Listed with every candidate value; decided with mine, theirs or a value."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from app.store import Store
from app.sync.merge import open_conflict, parse_value, resolve
from storage.models import SyncConflict
from storage.revisions import WHOLE_RECORD, device_id


@dataclass(frozen=True)
class ConflictView:
    id: str
    entity: str
    record_id: str
    field: str
    what: str  # in words
    winner_rev: str
    candidates: list[dict[str, Any]]  # rev, device, hlc, at, value, mine

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _what(row: SyncConflict) -> str:
    if row.field == "deleted":
        return "deleted on one laptop while changed (or restored) on another; the record is kept"
    if row.field == WHOLE_RECORD:
        return f"the whole {row.entity} was entered differently on two laptops"
    return f"{row.field!r} changed on two laptops"


def list_conflicts(store: Store) -> list[ConflictView]:
    """Open conflicts, oldest first. Every laptop with the same changes lists the same ones."""
    with store.db.read() as s:
        me = device_id(s)
        rows = s.scalars(select(SyncConflict).order_by(SyncConflict.opened_hlc, SyncConflict.id))
        return [
            ConflictView(
                r.id,
                r.entity,
                r.record_id,
                r.field,
                _what(r),
                r.winner_rev,
                [c | {"mine": c["device"] == me} for c in r.candidates],
            )
            for r in rows
        ]


def resolve_conflict(store: Store, conflict_id: str, take: str | dict[str, str]) -> str:
    """take: "mine", "theirs", or {field: value as typed}. Returns the deciding revision's id."""
    with store.db.write() as s:
        row = open_conflict(s, conflict_id.strip())
        if isinstance(take, dict):
            return resolve(s, row, {k: parse_value(row.entity, k, v) for k, v in take.items()})
        return resolve(s, row, take)
