"""The wire format of revisions (push, pull and bundles share it) and the versions both ends
must agree on before anything is exchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from storage.db import head_revision
from storage.models import Revision
from storage.timeutil import from_utc_text, to_utc_text

PROTOCOL = 1
"""The sync protocol this app speaks. A server answers 426 to a client outside its range."""
MIN_PROTOCOL = 1

SCHEMA = int(head_revision())
"""The record schema (the local database's migration number) revisions are written in."""
MIN_SCHEMA = 3  # the first schema with sync (0003); older apps have no sync at all

PROTOCOL_HEADER = "Kua-Protocol"
SCHEMA_HEADER = "Kua-Schema"

MAX_BATCH = 500
"""Revisions in one push, and at most in one pull page."""
MAX_BODY = 16 * 1024 * 1024
"""Bytes of one request body (a push batch or a blob chunk)."""
MAX_CHUNK = 4 * 1024 * 1024
"""Bytes of one blob chunk."""

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
        """Parse and check one revision; ValueError says what is wrong with it."""
        if not isinstance(obj, dict):
            raise ValueError("a revision must be an object")
        try:
            rev = WireRevision(
                rev_id=str(obj["rev_id"]),
                entity=str(obj["entity"]),
                record_id=str(obj["record_id"]),
                op=str(obj["op"]),
                parents=tuple(str(p) for p in obj["parents"]),
                device_id=str(obj["device_id"]),
                hlc=str(obj["hlc"]),
                fields=dict(obj["fields"]),
                created_at=str(obj["created_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a revision lacks or mangles a member ({exc})") from None
        for name in ("rev_id", "record_id", "device_id", *(["parent"] * len(rev.parents))):
            values = rev.parents if name == "parent" else (getattr(rev, name),)
            if not all(UUID_RE.match(v) for v in values):
                raise ValueError(f"revision {rev.rev_id[:40]!r}: {name} is not a UUID")
        if rev.op not in OPS:
            raise ValueError(f"revision {rev.rev_id}: unknown op {rev.op[:20]!r}")
        if not HLC_RE.match(rev.hlc):
            raise ValueError(f"revision {rev.rev_id}: malformed clock {rev.hlc[:60]!r}")
        try:
            from_utc_text(rev.created_at)
        except ValueError:
            raise ValueError(f"revision {rev.rev_id}: malformed created_at") from None
        return rev

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

    def to_row(self, server_seq: int | None = None) -> Revision:
        return Revision(
            rev_id=self.rev_id,
            entity=self.entity,
            record_id=self.record_id,
            op=self.op,
            parents=list(self.parents),
            device_id=self.device_id,
            hlc=self.hlc,
            fields=self.fields,
            created_at=from_utc_text(self.created_at),
            server_seq=server_seq,
        )
