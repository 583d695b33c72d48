"""The wire format of revisions (push, pull and bundles share it) and the versions both ends
must agree on before anything is exchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from storage.models import Revision
from storage.timeutil import UTC_TEXT_RE, from_utc_text, to_utc_text

PROTOCOL = 1
"""The sync protocol this app speaks. A server answers 426 to a client outside its range."""
MIN_PROTOCOL = 1

SCHEMA = 3
"""The record schema revisions are written in: the local migration that last changed what a
synced record carries (0003). A migration that changes only local bookkeeping (0004 widened a
column) leaves it, so laptops and servers of both versions keep syncing; one that adds a
synced field or entity raises it to its own number."""
MIN_SCHEMA = 3  # the first schema with sync (0003); older apps have no sync at all

PROTOCOL_HEADER = "Kua-Protocol"
SCHEMA_HEADER = "Kua-Schema"

MAX_BATCH = 500
"""Revisions in one push."""
MAX_PULL = 10_000
"""Revisions in one pull page at most (a first sync of a big team takes thousands of them)."""
MAX_BODY = 16 * 1024 * 1024
"""Bytes of one request body (a push batch or a blob chunk)."""
MAX_CHUNK = 4 * 1024 * 1024
"""Bytes of one blob chunk."""
MAX_SNAPSHOT_CHUNK = 16 * 1024 * 1024
"""Bytes of one piece of a team snapshot (a big team's is a hundred megabytes)."""

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HLC_RE = re.compile(r"^[0-9]{13}-[0-9]{5}-[0-9a-f-]{36}$")
OPS = ("create", "update", "delete", "restore", "resolve")


@dataclass(frozen=True)
class WireRevision:
    rev_id: str
    entity: str
    record_id: str
    op: str
    parents: tuple[str, ...]
    device_id: str
    hlc: str
    fields: dict[str, Any]
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rev_id": self.rev_id,
            "entity": self.entity,
            "record_id": self.record_id,
            "op": self.op,
            "parents": list(self.parents),
            "device_id": self.device_id,
            "hlc": self.hlc,
            "fields": self.fields,
            "created_at": self.created_at,
        }

    @staticmethod
    def from_json(obj: Any) -> WireRevision:
        """Parse and check one revision; ValueError says what is wrong with it. (Runs for every
        revision a laptop receives: a first sync checks a hundred thousand of them.)"""
        if not isinstance(obj, dict):
            raise ValueError("a revision must be an object")
        try:
            rev_id, entity, record_id = obj["rev_id"], obj["entity"], obj["record_id"]
            op, parents, device, hlc = obj["op"], obj["parents"], obj["device_id"], obj["hlc"]
            fields, created_at = obj["fields"], obj["created_at"]
        except KeyError as exc:
            raise ValueError(f"a revision lacks a member ({exc})") from None
        if not (
            type(rev_id) is str
            and type(entity) is str
            and type(record_id) is str
            and type(op) is str
            and type(device) is str
            and type(hlc) is str
            and type(created_at) is str
            and type(fields) is dict
            and type(parents) is list
            and (not parents or all(type(p) is str for p in parents))
        ):
            raise ValueError(f"revision {str(rev_id)[:40]!r}: a member has the wrong type")
        for name, value in (("rev_id", rev_id), ("record_id", record_id), ("device_id", device)):
            if not UUID_RE.match(value):
                raise ValueError(f"revision {rev_id[:40]!r}: {name} is not a UUID")
        if parents and not all(UUID_RE.match(p) for p in parents):
            raise ValueError(f"revision {rev_id}: parent is not a UUID")
        if op not in OPS:
            raise ValueError(f"revision {rev_id}: unknown op {op[:20]!r}")
        if not HLC_RE.match(hlc):
            raise ValueError(f"revision {rev_id}: malformed clock {hlc[:60]!r}")
        if not UTC_TEXT_RE.fullmatch(created_at):
            try:
                from_utc_text(created_at)
            except ValueError:
                raise ValueError(f"revision {rev_id}: malformed created_at") from None
        return WireRevision(
            rev_id, entity, record_id, op, tuple(parents), device, hlc, fields, created_at
        )

    @staticmethod
    def of(row: Revision) -> WireRevision:
        return WireRevision(
            rev_id=row.rev_id,
            entity=row.entity,
            record_id=row.record_id,
            op=row.op,
            parents=tuple(row.parents),
            device_id=row.device_id,
            hlc=row.hlc,
            fields=dict(row.fields),
            created_at=to_utc_text(row.created_at),
        )
