"""Every change to a synced record writes a revision in the same transaction (the sync outbox)
and an audit event. Done in one before_flush hook so no write path can forget it."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, event, inspect, select, text
from sqlalchemy.orm import Session

from storage import audit
from storage.ids import uuid7
from storage.models import RecordHeads, Revision, Setting, SyncConflict, Synced
from storage.timeutil import to_utc_text, utcnow

DEVICE_KEY = "device_id"
APPLYING = "kua_applying_revisions"
WHOLE_RECORD = "*"  # the conflict "field" of a record merged as one unit (a protocol)


def begin_applying(session: Session) -> None:
    """Mark a write session as applying other copies' revisions: the sync engine writes records
    from revisions it already has, so the hook must not record those writes as new local edits.
    Foreign keys are checked at commit, so a page may hold a record before the one it refers to."""
    session.info[APPLYING] = True
    session.execute(text("PRAGMA defer_foreign_keys = ON"))


def device_id(session: Session) -> str:
    row = session.get(Setting, DEVICE_KEY)
    if row is None:
        row = Setting(key=DEVICE_KEY, value=uuid7())
        session.add(row)
    return str(row.value)


def next_hlc(last: str | None, device: str) -> str:
    """Hybrid logical clock: wall milliseconds, never behind the last one seen, plus a counter.
    It only breaks ties between concurrent revisions; it never decides what survives."""
    wall = time.time_ns() // 1_000_000
    if last:
        last_ms, last_count = (int(p) for p in last.split("-")[:2])
        if wall <= last_ms:
            return f"{last_ms:013d}-{last_count + 1:05d}-{device}"
    return f"{wall:013d}-{0:05d}-{device}"


def revision_value(value: Any) -> Any:
    """A column's value as a revision carries it (JSON: times as UTC text, days ISO)."""
    if isinstance(value, datetime):
        return to_utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def data_fields(obj: Synced) -> list[str]:
    mapper = inspect(type(obj))
    return [c.key for c in mapper.column_attrs if c.key not in Synced.BOOKKEEPING]


def _apply_defaults(obj: Synced) -> None:
    """Fill Python-side column defaults now, so the create revision carries the real values."""
    for column in inspect(type(obj)).columns:
        default = column.default
        if (
            default is None
            or column.key in Synced.BOOKKEEPING
            or getattr(obj, column.key) is not None
        ):
            continue
        if default.is_callable:
            setattr(obj, column.key, default.arg(None))  # type: ignore[union-attr]
        elif default.is_scalar:
            setattr(obj, column.key, default.arg)  # type: ignore[union-attr]


@event.listens_for(Session, "before_flush")
def _write_revisions(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(APPLYING):
        return
    changed = [o for o in session.new if isinstance(o, Synced)]
    changed += [o for o in session.dirty if isinstance(o, Synced) and session.is_modified(o)]
    if not changed:
        return
    with session.no_autoflush:
        device = device_id(session)
        now = utcnow()
        hlc = session.scalar(select(Revision.hlc).order_by(Revision.hlc.desc()).limit(1))
        for obj in changed:
            state = inspect(obj)
            stamp = now
            if state.pending:
                op = "create"
                _apply_defaults(obj)
                # The record's creation time is its first revision's: the same on every copy.
                obj.created_at = stamp = obj.created_at or now
                obj.updated_at = obj.updated_at or stamp
                fields = {k: revision_value(getattr(obj, k)) for k in data_fields(obj)}
            else:
                fields = {}
                for key in data_fields(obj):
                    hist = state.attrs[key].history
                    if hist.has_changes():
                        fields[key] = revision_value(getattr(obj, key))
                if not fields:
                    continue
                fixed = sorted(set(fields) & set(obj.NATURAL_KEY))
                if fixed:
                    raise ValueError(
                        f"{type(obj).__name__}.{', '.join(fixed)} identifies the record and is "
                        "fixed at creation; delete it and create another instead"
                    )
                if obj.MERGE_AS_UNIT and set(fields) - {"deleted"}:
                    # The whole unit travels, so a merge never mixes two people's figures.
                    unit = (k for k in data_fields(obj) if k not in ("id", "deleted"))
                    fields |= {k: revision_value(getattr(obj, k)) for k in unit}
                op = "update"
                if "deleted" in fields:
                    op = "delete" if obj.deleted else "restore"
            entity: str = type(obj).__tablename__  # type: ignore[attr-defined]
            parents = [obj.rev] if obj.rev else []
            if op != "create":
                parents = _parents_after_merge(session, entity, obj.id, parents, fields, obj)
            rev_id = uuid7()
            hlc = next_hlc(hlc, device)
            session.add(
                Revision(
                    rev_id=rev_id,
                    entity=entity,
                    record_id=obj.id,
                    op=op,
                    parents=parents,
                    device_id=device,
                    hlc=hlc,
                    fields=fields,
                    created_at=stamp,
                )
            )
            obj.rev = rev_id
            if op != "create":
                obj.updated_at = now
            detail = {"rev": rev_id, "fields": sorted(fields)}
            audit.append(session, device, op, type(obj).__tablename__, obj.id, detail)  # type: ignore[attr-defined]


def _parents_after_merge(
    session: Session,
    entity: str,
    record_id: str,
    parents: list[str],
    fields: dict[str, Any],
    obj: Synced,
) -> list[str]:
    """A local edit follows every head sync has merged into the record (not only the one in
    `rev`), so it supersedes what the user saw; the conflicts on the fields it sets are settled."""
    heads = session.get(RecordHeads, (entity, record_id))
    if heads is not None:
        parents = sorted(heads.heads)
        session.delete(heads)
    settled = set(fields)
    if obj.MERGE_AS_UNIT and settled - {"deleted"}:
        settled.add(WHOLE_RECORD)
    session.execute(
        delete(SyncConflict).where(
            SyncConflict.entity == entity,
            SyncConflict.record_id == record_id,
            SyncConflict.field.in_(settled),
        )
    )
    return parents
