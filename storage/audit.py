"""The audit log: an append-only chain where each event carries the hash of the one before it.

Editing an event breaks its own hash; deleting one breaks the chain (and the sequence); cutting
events off the end is caught by the head recorded in the settings table. Someone who can rewrite
the whole file can rewrite the whole chain: exported PDFs and the team server anchor it outside.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Setting
from storage.timeutil import to_utc_text, utcnow

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
_ADDED = "kua_added_settings"


def _digest(event: AuditEvent) -> str:
    body = [
        event.seq,
        event.at,
        event.device_id,
        event.action,
        event.entity,
        event.record_id,
        event.detail,
        event.prev_hash,
    ]
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(
    session: Session,
    device_id: str,
    action: str,
    entity: str,
    record_id: str | None,
    detail: dict[str, Any],
) -> AuditEvent:
    """Add an event chained to the current head. Call inside a write transaction."""
    head = setting_row(session, HEAD_KEY, lambda: {"seq": 0, "hash": GENESIS})
    event = AuditEvent(
        seq=head.value["seq"] + 1,
        at=to_utc_text(utcnow()),
        device_id=device_id,
        action=action,
        entity=entity,
        record_id=record_id,
        detail=detail,
        prev_hash=head.value["hash"],
    )
    event.hash = _digest(event)
    session.add(event)
    head.value = {"seq": event.seq, "hash": event.hash}
    return event


def setting_row(session: Session, key: str, initial: Callable[[], Any]) -> Setting:
    """The setting's row, added with initial() if there is none. session.get finds only flushed
    rows, so a row added here and not flushed yet is remembered in the session: the next call
    before the flush (every record of a fresh store's first flush appends an event) must get
    it, not add a second row with the same key (and a second event with the same seq)."""
    added: dict[str, Setting] = session.info.setdefault(_ADDED, {})
    row = added.get(key)
    if row is not None:
        state = inspect(row)
        if state.pending and state.session is session:
            return row
    row = session.get(Setting, key)
    if row is None:
        row = Setting(key=key, value=initial())
        session.add(row)
        added[key] = row
    return row


@dataclass
class AuditReport:
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, batch: int = 5000) -> AuditReport:
    report = AuditReport()
    expected_seq, prev = 1, GENESIS
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            report.events += 1
            if ev.seq != expected_seq:
                report.problems.append(
                    f"events {expected_seq}..{ev.seq - 1} are missing (deleted from the log)"
                )
            if ev.prev_hash != prev:
                report.problems.append(f"event {ev.seq} does not follow the event before it")
            if _digest(ev) != ev.hash:
                report.problems.append(f"event {ev.seq} ({ev.action} {ev.entity}) was altered")
            expected_seq, prev, last_seq = ev.seq + 1, ev.hash, ev.seq
        session.expunge_all()
    head = session.get(Setting, HEAD_KEY)
    if head is not None:
        if head.value["seq"] != last_seq or head.value["hash"] != prev:
            report.problems.append(
                f"the log ends at event {last_seq} but its recorded head is event "
                f"{head.value['seq']}: events were removed from the end"
            )
    elif report.events:
        report.problems.append("the log's recorded head is missing")
    return report
