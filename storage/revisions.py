"""Every change to a synced record writes a revision in the same transaction (the sync outbox)
and an audit event. Done in one before_flush hook so no write path can forget it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, event, inspect, select, text
from sqlalchemy.orm import Session

from storage import audit
from storage.ids import uuid7
from storage.models import RecordHeads, Revision, SyncConflict, Synced
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
    return str(audit.setting_row(session, DEVICE_KEY, uuid7).value)


def next_hlc(last: str | None, device: str) -> str:
    """Hybrid logical clock: wall milliseconds, never behind the last one seen, plus a counter.
    It only breaks ties between concurrent revisions; it never decides what survives."""
    wall = time.time_ns() // 1_000_000
    if last:
        last_ms, last_count = (int(p) for p in last.split("-")[:2])
        if wall <= last_ms:
            return f"{last_ms:013d}-{last_count + 1:05d}-{device}"
    return f"{wall:013d}-{0:05d}-{device}"


def last_hlc(session: Session) -> str | None:
    """The latest clock of any revision here, which a new revision's clock follows (next_hlc)."""
    return session.scalar(select(Revision.hlc).order_by(Revision.hlc.desc()).limit(1))


def record_parents(rev: str | None, heads: RecordHeads | None) -> list[str]:
    """The parents of a new revision of a record: every head sync has merged into it (heads, its
    RecordHeads row), else the one in `rev`."""
    if heads is not None:
        return sorted(heads.heads)
    return [rev] if rev else []


def revision_value(value: Any) -> Any:
    """A column's value as a revision carries it (JSON: times as UTC text, days ISO)."""
    if isinstance(value, datetime):
        return to_utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


_FIELDS: dict[type[Synced], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _model_fields(model: type[Synced]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(data_fields, data_columns) of a model, worked out once: the hook asks per record."""
    known = _FIELDS.get(model)
    if known is None:
        mapper = inspect(model)
        fields = tuple(c.key for c in mapper.column_attrs if c.key not in Synced.BOOKKEEPING)
        known = _FIELDS[model] = (fields, tuple(k for k in fields if k not in ("id", "deleted")))
    return known


def data_fields(obj: Synced) -> tuple[str, ...]:
    """The fields a revision of obj may carry (its id and deleted flag too)."""
    return _model_fields(type(obj))[0]


def data_columns(model: type[Synced]) -> tuple[str, ...]:
    """The columns holding the user's data: the fields but the id and the deleted flag."""
    return _model_fields(model)[1]


def field_values(obj: Synced, keys: Iterable[str]) -> dict[str, Any]:
    """obj's current values of these fields, as a revision carries them."""
    return {k: revision_value(getattr(obj, k)) for k in keys}


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


_CHUNK = 500  # record ids per IN list: well below SQLite's limit on bound parameters


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
        hlc = last_hlc(session)
        # What the edits of existing records need, read once for all of them: one flush may
        # edit thousands, and a query (or ORM delete) per record would cost most of its time.
        edited = [(_entity(o), o.id) for o in changed if not inspect(o).pending]
        heads = _record_heads(session, edited)
        conflicted = _conflicted(session, edited)
        for obj in changed:
            state = inspect(obj)
            stamp = now
            if state.pending:
                op = "create"
                _apply_defaults(obj)
                # The record's creation time is its first revision's: the same on every copy.
                obj.created_at = stamp = obj.created_at or now
                obj.updated_at = obj.updated_at or stamp
                fields = field_values(obj, data_fields(obj))
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
                    fields |= field_values(obj, data_columns(type(obj)))
                op = "update"
                if "deleted" in fields:
                    op = "delete" if obj.deleted else "restore"
            entity = _entity(obj)
            if op == "create":
                parents = record_parents(obj.rev, None)
            else:
                record = (entity, obj.id)
                parents = _parents_after_merge(
                    session, obj, fields, heads.get(record), record in conflicted
                )
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
            audit.append(session, device, op, entity, obj.id, detail)


def _entity(obj: Synced) -> str:
    return type(obj).__tablename__  # type: ignore[attr-defined,no-any-return]


def _chunks(records: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(entity, up to _CHUNK of its record ids) covering these records."""
    ids: dict[str, list[str]] = {}
    for entity, record_id in records:
        ids.setdefault(entity, []).append(record_id)
    for entity, some in ids.items():
        for start in range(0, len(some), _CHUNK):
            yield entity, some[start : start + _CHUNK]


def _record_heads(
    session: Session, records: list[tuple[str, str]]
) -> dict[tuple[str, str], RecordHeads]:
    """The RecordHeads rows of these records (as session.get gives them), by record."""
    found: dict[tuple[str, str], RecordHeads] = {}
    for entity, ids in _chunks(records):
        query = select(RecordHeads).where(
            RecordHeads.entity == entity, RecordHeads.record_id.in_(ids)
        )
        found |= {(entity, row.record_id): row for row in session.scalars(query)}
    return found


def _conflicted(session: Session, records: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these records have open conflicts."""
    found: set[tuple[str, str]] = set()
    for entity, ids in _chunks(records):
        query = select(SyncConflict.record_id).where(
            SyncConflict.entity == entity, SyncConflict.record_id.in_(ids)
        )
        found |= {(entity, record_id) for record_id in session.scalars(query.distinct())}
    return found


def _parents_after_merge(
    session: Session,
    obj: Synced,
    fields: dict[str, Any],
    heads: RecordHeads | None,
    has_conflicts: bool,
) -> list[str]:
    """A local edit follows every head sync has merged into the record (not only the one in
    `rev`), so it supersedes what the user saw; the conflicts on the fields it sets are settled."""
    parents = record_parents(obj.rev, heads)
    if heads is not None:
        session.delete(heads)
    if has_conflicts:
        settled = set(fields)
        if obj.MERGE_AS_UNIT and settled - {"deleted"}:
            settled.add(WHOLE_RECORD)
        session.execute(
            delete(SyncConflict).where(
                SyncConflict.entity == _entity(obj),
                SyncConflict.record_id == obj.id,
                SyncConflict.field.in_(settled),
            )
        )
    return parents
