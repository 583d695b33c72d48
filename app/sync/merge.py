"""The merge engine: a record's current state is a pure function of the set of its revisions.

Every copy keeps every revision it has seen (its own and the others'). When new revisions of a
record arrive, the record is rebuilt from all of them, so two copies holding the same revisions
hold the same record, whatever order the revisions came in. Per field, the value is the one
written by the revision no other writer of that field descends from (a three-way merge against
the common ancestor); when several such writers disagree, the field is in conflict: all their
values are kept as candidates, and the one with the highest hybrid clock (device id breaks ties)
is shown until a person decides. Clocks only pick that provisional value; nothing is lost to a
wrong clock, because every revision and its values stay.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.sync.wire import WireRevision
from storage import audit
from storage.ids import uuid7
from storage.models import (
    SYNCED_MODELS,
    RecordAlias,
    RecordHeads,
    Revision,
    SyncConflict,
    Synced,
)
from storage.revisions import (
    WHOLE_RECORD,
    begin_applying,
    data_columns,
    device_id,
    field_values,
    last_hlc,
    next_hlc,
    record_parents,
    revision_value,
)
from storage.timeutil import UTCDateTime, from_utc_text, to_utc_text, utc_text, utcnow

MERGE_VERSION = 1
"""Raised whenever the records merge_revisions makes of the same revisions change (a fix in the
merge): a team snapshot made by another merge is not taken, and the server's replica is merged
anew."""

ENTITIES: dict[str, type[Synced]] = {m.__tablename__: m for m in SYNCED_MODELS}  # type: ignore[attr-defined]
ORDER = {name: i for i, name in enumerate(ENTITIES)}  # elections before stations before incidents

DELETED = "deleted"
_IN = "IN (SELECT value FROM json_each(?))"
"""Membership in a JSON array passed as one parameter: any number of ids in one statement, with
none of the cost of expanding an IN (...) list of bound parameters."""


def _order(rev: Revision) -> tuple[str, str]:
    return (rev.hlc, rev.rev_id)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass
class Candidate:
    rev: str
    device: str
    hlc: str
    at: str
    value: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "device": self.device,
            "hlc": self.hlc,
            "at": self.at,
            "value": self.value,
        }


@dataclass
class Merged:
    state: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    conflicts: list[tuple[str, list[Candidate], str]] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)


def _ancestors(revs: Sequence[Revision]) -> dict[str, frozenset[str]]:
    """Every revision's ancestors. A parent link counts only from a later clock to an earlier
    one (a real edit always has a later clock than its parents), so a forged cycle cannot loop."""
    anc: dict[str, frozenset[str]] = {}
    for rev in sorted(revs, key=_order):
        seen: set[str] = set()
        for p in rev.parents:
            if p in anc:
                seen.add(p)
                seen |= anc[p]
        anc[rev.rev_id] = frozenset(seen)
    return anc


def merge_revisions(
    model: type[Synced],
    revs: Sequence[Revision],
    normalize: Callable[[str, Any], Any] | None = None,
) -> Merged:
    """The record as the set of its revisions says it is. Deterministic: no clock, no order.
    normalize(field, value) maps a value to its canonical form (a reference to a merged
    duplicate means the record it was merged into) before values are compared."""
    anc = _ancestors(revs)
    norm = normalize or (lambda name, value: value)
    at = {r.rev_id: r for r in revs}

    def maximal(writers: list[Revision]) -> list[Revision]:
        return [w for w in writers if not any(w.rev_id in anc[o.rev_id] for o in writers)]

    def concurrent(a: Revision, b: Revision) -> bool:
        return a.rev_id not in anc[b.rev_id] and b.rev_id not in anc[a.rev_id]

    def value_at(name: str, rev: Revision) -> Any:
        if name in rev.fields:
            return norm(name, rev.fields[name])
        older = [at[a] for a in anc[rev.rev_id] if name in at[a].fields]
        return norm(name, max(older, key=_order).fields[name]) if older else None

    def candidate(rev: Revision, value: Any) -> Candidate:
        return Candidate(rev.rev_id, rev.device_id, rev.hlc, _at(rev), value)

    merged = Merged()
    # The natural key is what the record was created with (twins were created with the same
    # one). A later write to it (only a foreign client could make one) stays in the history.
    keys = model.NATURAL_KEY
    creations = sorted((r for r in revs if r.op == "create"), key=_order)
    for k in keys:
        given = [r for r in creations if k in r.fields]
        if given:
            merged.state[k] = norm(k, given[0].fields[k])
    columns = [c for c in data_columns(model) if c not in keys]
    groups = [(WHOLE_RECORD, columns)] if model.MERGE_AS_UNIT else [(c, [c]) for c in columns]
    for name, members in groups:
        writers = [r for r in revs if any(m in r.fields for m in members)]
        if not writers:
            continue
        top = maximal(writers)
        win = max(top, key=_order)

        def group_value(rev: Revision, members: list[str] = members) -> Any:
            if len(members) == 1:
                return value_at(members[0], rev)
            return {m: value_at(m, rev) for m in members}

        for m in members:
            if any(m in w.fields for w in writers):
                merged.state[m] = value_at(m, win)
        if len({_json(group_value(r)) for r in top}) > 1:
            cands = [candidate(r, group_value(r)) for r in sorted(top, key=_order, reverse=True)]
            merged.conflicts.append((name, cands, win.rev_id))

    # Deletion: concurrent delete and restore is a conflict like any other field; a delete that
    # did not know of an edit keeps the record (nothing anyone wrote disappears) and asks.
    writers = [r for r in revs if DELETED in r.fields]
    top = maximal(writers)
    if top:
        win = max(top, key=_order)
        merged.deleted = bool(win.fields[DELETED])
        deleters = [d for d in top if d.fields[DELETED]]
        editors = maximal(
            [
                r
                for r in revs
                if set(r.fields) & set(columns) and any(concurrent(r, d) for d in deleters)
            ]
        )
        if editors:
            merged.deleted = False
            keep = max(editors + [r for r in top if not r.fields[DELETED]], key=_order)
            by_rev = {r.rev_id: candidate(r, bool(r.fields[DELETED])) for r in top}
            by_rev |= {r.rev_id: candidate(r, False) for r in editors}
            ordered = sorted(by_rev.values(), key=lambda c: (c.hlc, c.rev), reverse=True)
            merged.conflicts.append((DELETED, ordered, keep.rev_id))
        elif len({bool(r.fields[DELETED]) for r in top}) > 1:
            cands = [
                candidate(r, bool(r.fields[DELETED])) for r in sorted(top, key=_order, reverse=True)
            ]
            merged.conflicts.append((DELETED, cands, win.rev_id))
    has_children = {p for r in revs for p in r.parents}
    merged.heads = [r.rev_id for r in sorted(revs, key=_order) if r.rev_id not in has_children]
    return merged


def _at(rev: Revision) -> str:
    return to_utc_text(rev.created_at)


def conflict_id(entity: str, record_id: str, field_name: str, revs: Iterable[str]) -> str:
    text = f"{entity}/{record_id}/{field_name}/{','.join(sorted(revs))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- applying revisions to the local store ------------------------------------------------------


@dataclass
class Applied:
    new: int = 0  # revisions this copy did not have
    known: int = 0  # already here (a replayed page or bundle)


def apply_revisions(
    session: Session,
    revisions: Sequence[WireRevision],
    server_seqs: dict[str, int] | None = None,
) -> Applied:
    """Store the revisions this copy lacks and rebuild the records they touch, in the caller's
    write transaction. Replaying revisions changes nothing (only marks them acknowledged).

    A record whose whole history arrives here (one creation and a line of edits, nothing of it
    on this copy yet, no duplicate of it anywhere) is built in Python and inserted in bulk with
    its peers; every other record is rebuilt one by one (rebuild). Both give the same rows."""
    with collector_paused():
        return _apply(session, revisions, server_seqs or {})


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Reading and applying a page makes hundreds of thousands of objects, none in reference
    cycles; the cyclic garbage collector would walk every live object again and again meanwhile
    (a third of a first sync's time). It runs as usual once the page is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _apply(session: Session, revisions: Sequence[WireRevision], seqs: dict[str, int]) -> Applied:
    begin_applying(session)
    session.flush()  # what follows reads and writes with plain SQL
    result = Applied()
    unique = list({r.rev_id: r for r in revisions}.values())
    known: dict[str, int | None] = dict(
        _query(
            session,
            f"SELECT rev_id, server_seq FROM revision WHERE rev_id {_IN}",
            _ids(r.rev_id for r in unique),
        )
    )
    touched: dict[tuple[str, str], list[WireRevision]] = {}
    fresh: list[WireRevision] = []
    acknowledged: list[tuple[int, str]] = []
    for rev in unique:
        if rev.rev_id in known:
            result.known += 1
            seq = seqs.get(rev.rev_id)
            if seq is not None and known[rev.rev_id] is None:
                acknowledged.append((seq, rev.rev_id))
            continue
        fresh.append(rev)
        result.new += 1
        if rev.entity in ENTITIES:  # a newer app's entity is kept, and shown once we know it
            touched.setdefault((rev.entity, rev.record_id), []).append(rev)
    if acknowledged:
        sql = "UPDATE revision SET server_seq = ? WHERE rev_id = ?"
        session.connection().exec_driver_sql(sql, acknowledged)  # type: ignore[arg-type]
    # Which records this copy already knows something of (before this batch is stored).
    had: set[tuple[str, str]] = set()
    for entity in {e for e, _ in touched}:
        had |= {
            (entity, r)
            for (r,) in _query(
                session,
                f"SELECT DISTINCT record_id FROM revision WHERE entity = ? AND record_id {_IN}",
                entity,
                _ids(r for e, r in touched if e == entity),
            )
        }
    _insert_revisions(session, fresh, seqs)
    by_entity: dict[str, dict[str, list[WireRevision]]] = {}
    for (entity, record_id), revs in touched.items():
        by_entity.setdefault(entity, {})[record_id] = revs
    for entity in sorted(by_entity, key=lambda e: ORDER[e]):
        _apply_entity(session, entity, by_entity[entity], had)
    session.flush()
    if result.new:
        me = device_id(session)
        audit.append(session, me, "sync", "revision", None, {"applied": result.new})
    return result


def _ids(values: Iterable[str]) -> str:
    return json.dumps(list(values))


def _query(session: Session, sql: str, *params: Any) -> list[Any]:
    return list(session.connection().exec_driver_sql(sql, params).all())


_REVISION_COLUMNS = (
    "rev_id", "entity", "record_id", "op", "parents", "device_id", "hlc", "fields", "created_at",
    "server_seq",
)  # fmt: skip


def _insert_revisions(session: Session, revs: Sequence[WireRevision], seqs: dict[str, int]) -> None:
    """The new revisions as rows of the revision table, in one bulk insert. Plain DB-API
    executemany: a pull of 100k revisions spends most of its time here."""
    rows = [
        (
            r.rev_id,
            r.entity,
            r.record_id,
            r.op,
            _dumps(r.parents) if r.parents else "[]",
            r.device_id,
            r.hlc,
            _dumps(r.fields),
            utc_text(r.created_at),
            seqs.get(r.rev_id),
        )
        for r in revs
    ]
    if rows:
        _insert_many(session, "revision", _REVISION_COLUMNS, rows)


def _dumps(value: Any) -> str:
    """JSON text as the JSON columns hold it; orjson is 5x json.dumps, which still takes what
    orjson refuses (an integer beyond 64 bits, from a bundle)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _insert_many(
    session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    session.connection().exec_driver_sql(sql, rows)  # type: ignore[arg-type]


def _linear(revs: list[WireRevision]) -> list[WireRevision] | None:
    """The revisions in clock order if they are one creation followed by a line of edits, each
    the child of the one before (then no field has two writers to merge); otherwise None."""
    chain = sorted(revs, key=lambda r: (r.hlc, r.rev_id))
    if chain[0].op != "create" or chain[0].parents:
        return None
    for prev, rev in zip(chain, chain[1:], strict=False):
        if rev.op == "create" or rev.parents != (prev.rev_id,):
            return None
    return chain


@dataclass
class _Shape:
    """What building one entity's rows in Python needs to know of its table."""

    targets: dict[str, str]  # reference column -> the entity it refers to
    plain: list[str]  # data columns stored as they come
    # The other data columns: (column, its default or None, Python value -> stored value).
    special: list[tuple[str, Callable[[], Any] | None, Callable[[Any], Any] | None]]

    @property
    def columns(self) -> list[str]:
        """The columns of a row _fresh_rows makes, in its order."""
        data = [*self.plain, *(key for key, _, _ in self.special)]
        return ["id", *data, DELETED, "rev", "created_at", "updated_at"]


_SHAPES: dict[str, _Shape] = {}


def _time_value(value: Any) -> Any:
    """A UTCDateTime column's stored text (the wire carries times as that text already)."""
    return utc_text(value) if isinstance(value, str) else revision_value(value)


def _shape(session: Session, entity: str) -> _Shape:
    shape = _SHAPES.get(entity)
    if shape is None:
        model = ENTITIES[entity]
        table = model.__table__  # type: ignore[attr-defined]
        dialect = session.get_bind().dialect
        plain: list[str] = []
        special: list[tuple[str, Callable[[], Any] | None, Callable[[Any], Any] | None]] = []
        for key in data_columns(model):
            column = table.columns[key]
            default: Callable[[], Any] | None = None
            if column.default is not None and column.default.is_callable:
                default = functools.partial(column.default.arg, None)
            elif column.default is not None and column.default.is_scalar:
                default = functools.partial(_same, column.default.arg)
            stored = (
                _time_value
                if isinstance(column.type, UTCDateTime)
                else column.type.bind_processor(dialect)
            )
            if default is None and stored is None:
                plain.append(key)
            else:
                special.append((key, default, stored))
        shape = _Shape(
            targets={
                c.key: next(iter(c.foreign_keys)).column.table.name
                for c in table.columns
                if c.foreign_keys
            },
            plain=plain,
            special=special,
        )
        _SHAPES[entity] = shape
    return shape


def _same(value: Any) -> Any:
    return value


def _apply_entity(
    session: Session,
    entity: str,
    records: dict[str, list[WireRevision]],
    had: set[tuple[str, str]],
) -> None:
    """Build one entity's touched records in the order rebuild took them one by one: runs of
    whole-history records in bulk, the others by rebuild at their place in that order. Runs
    after every entity they may refer to is done (ORDER), so references resolve."""
    ids = list(records)
    session.flush()
    wanted = _ids(ids)
    # A row here already, or an alias (either side).
    busy = {r for (r,) in _query(session, f'SELECT id FROM "{entity}" WHERE id {_IN}', wanted)}
    for alias, canon in _query(
        session,
        "SELECT alias_id, canonical_id FROM record_alias "
        f"WHERE entity = ? AND (alias_id {_IN} OR canonical_id {_IN})",
        entity,
        wanted,
        wanted,
    ):
        busy |= {alias, canon}
    run: list[tuple[str, list[WireRevision]]] = []
    for record_id, revs in records.items():
        chain = None if (entity, record_id) in had or record_id in busy else _linear(revs)
        if chain is not None:
            run.append((record_id, chain))
            continue
        _insert_run(session, entity, run)
        run = []
        rebuild(session, entity, record_id)
    _insert_run(session, entity, run)


def _insert_run(session: Session, entity: str, run: list[tuple[str, list[WireRevision]]]) -> None:
    """Insert records whose whole history is their chain, as rebuild would make them (no
    conflicts, one head), in bulk. One that meets a natural-key twin (in the store, or earlier
    in the run) is left to rebuild at its place, which merges the two; the rest follow it."""
    shape = _shape(session, entity)
    columns = shape.columns
    while run:
        session.flush()
        with session.no_autoflush:
            rows, stop = _fresh_rows(session, entity, shape, run)
            if rows:
                _insert_many(session, entity, columns, rows)
        if stop == len(run):
            return
        rebuild(session, entity, run[stop][0])
        run = run[stop + 1 :]


def _fresh_rows(
    session: Session, entity: str, shape: _Shape, run: list[tuple[str, list[WireRevision]]]
) -> tuple[list[tuple[Any, ...]], int]:
    """The rows of run[:stop] (values in shape.columns' order), where run[stop] is the first
    record rebuild must take (a twin, or a natural key that is not plain text); stop ==
    len(run) when there is none. Runs for every record of a first sync."""
    keys = ENTITIES[entity].NATURAL_KEY
    states: list[dict[str, Any]] = []
    for _, chain in run:
        if len(chain) == 1:  # a creation alone (most of a first sync): its fields as they are
            states.append(chain[0].fields)
            continue
        state: dict[str, Any] = {}
        for rev in chain:
            state.update(rev.fields)
        for key in keys:  # as merge_revisions: the key the record was created with
            state.pop(key, None)
            if key in chain[0].fields:
                state[key] = chain[0].fields[key]
        states.append(state)
    # References to a merged duplicate mean the record it was merged into (normalize).
    for key, target in shape.targets.items():
        wanted = {s[key] for s in states if isinstance(s.get(key), str)}
        alias: dict[str, str] = dict(
            _query(
                session,
                "SELECT alias_id, canonical_id FROM record_alias "
                f"WHERE entity = ? AND alias_id {_IN}",
                target,
                _ids(wanted),
            )
        )
        if alias:
            for n, state in enumerate(states):
                value = state.get(key)
                if isinstance(value, str) and value in alias:
                    states[n] = {**state, key: alias[value]}
    taken = _keys_present(session, entity, keys, states) if keys else set()
    rows: list[tuple[Any, ...]] = []
    plain, special = shape.plain, shape.special
    for stop, ((record_id, chain), state) in enumerate(zip(run, states, strict=True)):
        if keys and all(k in state for k in keys):  # rebuild compares only complete keys
            value = tuple(state[k] for k in keys)
            if value in taken or not all(isinstance(v, str) for v in value):
                return rows, stop
            taken.add(value)
        row = [record_id, *map(state.get, plain)]
        for key, default, stored in special:
            # As rebuild's new row: a value left None (or unwritten) takes the default.
            value = state.get(key)
            if value is None and default is not None:
                value = default()
            row.append(value if value is None or stored is None else stored(value))
        created = utc_text(chain[0].created_at)
        if len(chain) == 1:
            deleted, updated = bool(chain[0].fields.get(DELETED)), created
        else:
            deleted = False
            for rev in chain:
                if DELETED in rev.fields:
                    deleted = bool(rev.fields[DELETED])
            updated = max([created, *(utc_text(r.created_at) for r in chain[1:])])
        row += (deleted, chain[-1].rev_id, created, updated)
        rows.append(tuple(row))
    return rows, len(run)


def _keys_present(
    session: Session, entity: str, keys: tuple[str, ...], states: list[dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """Which of these states' natural keys (plain text ones) a stored record has."""
    # Keys grouped by all but their last part (a station's election): one query per group,
    # and SQLite searches the key's index once per last part.
    groups: dict[tuple[Any, ...], set[str]] = {}
    for state in states:
        *prefix, tail = (state.get(k) for k in keys)
        if isinstance(tail, str) and all(type(v) is str for v in prefix):
            groups.setdefault(tuple(prefix), set()).add(tail)
    table = ENTITIES[entity].__table__  # type: ignore[attr-defined]
    *first, last = (f'"{table.c[k].name}"' for k in keys)
    where = " AND ".join([*(f"{n} = ?" for n in first), f"{last} {_IN}"])
    sql = f'SELECT {", ".join([*first, last])} FROM "{table.name}" WHERE {where}'
    present: set[tuple[Any, ...]] = set()
    for group, tails in groups.items():
        present |= {tuple(found) for found in _query(session, sql, *group, _ids(tails))}
    return present


def canonical_id(session: Session, entity: str, record_id: str) -> str:
    alias = session.get(RecordAlias, (entity, record_id))
    return record_id if alias is None else alias.canonical_id


def _record_revisions(session: Session, entity: str, canon: str) -> list[Revision]:
    ids = [
        canon,
        *session.scalars(
            select(RecordAlias.alias_id).where(
                RecordAlias.entity == entity, RecordAlias.canonical_id == canon
            )
        ),
    ]
    return list(
        session.scalars(
            select(Revision).where(Revision.entity == entity, Revision.record_id.in_(ids))
        )
    )


def _references(entity: str) -> list[tuple[type[Synced], str]]:
    refs = []
    for model in ENTITIES.values():
        for col in model.__table__.columns:  # type: ignore[attr-defined]
            if any(
                fk.column.table.name == entity and fk.column.name == "id" for fk in col.foreign_keys
            ):
                refs.append((model, col.key))
    return refs


def _find(session: Session, model: type[Synced], record_id: str) -> Any:
    stmt = select(model).where(model.id == record_id).execution_options(populate_existing=True)
    return session.scalars(stmt).first()


def rebuild(session: Session, entity: str, record_id: str) -> None:
    """Make the record (and its conflicts and heads) what its revisions say."""
    model = ENTITIES[entity]
    canon = canonical_id(session, entity, record_id)
    revs = _record_revisions(session, entity, canon)
    if not any(r.op == "create" for r in revs):
        return  # its creation has not arrived yet: shown once it does
    table = model.__table__  # type: ignore[attr-defined]
    targets = _shape(session, entity).targets
    # merge_revisions asks for the same references again and again; aliases stay as they are
    # until it is done.
    canonical: dict[tuple[str, str], str] = {}

    def normalize(name: str, value: Any) -> Any:
        if name in targets and isinstance(value, str):
            ref = (targets[name], value)
            if ref not in canonical:
                canonical[ref] = canonical_id(session, *ref)
            return canonical[ref]
        return value

    merged = merge_revisions(model, revs, normalize)
    state = dict(merged.state)
    for key, value in list(state.items()):
        column = table.columns[key]
        if isinstance(column.type, UTCDateTime) and isinstance(value, str):
            state[key] = from_utc_text(value)

    # A station is the same station on every laptop if its code within the election is; an
    # election is the same if its name and day are. Two copies that imported the same list merge
    # into one; so do two laptops' entries of one station's protocol from one source (differing
    # figures become a conflict). The key is the one the record was created with.
    keys = model.NATURAL_KEY
    if keys and all(k in state for k in keys):
        twin = session.scalar(
            select(model.id).where(
                *(getattr(model, k) == state[k] for k in keys), model.id != canon
            )
        )
        if twin is not None:
            keep, gone = sorted((canon, twin))
            merge_duplicates(session, entity, keep, gone)
            return

    row = _find(session, model, canon)
    if row is None:
        row = model()
        row.id = canon
        session.add(row)
    for key, value in state.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
    row.deleted = merged.deleted
    row.rev = merged.heads[-1]
    row.created_at = min(r.created_at for r in revs if r.op == "create")
    row.updated_at = max(r.created_at for r in revs)

    session.execute(
        delete(SyncConflict).where(SyncConflict.entity == entity, SyncConflict.record_id == canon)
    )
    for name, cands, winner in merged.conflicts:
        session.add(
            SyncConflict(
                id=conflict_id(entity, canon, name, (c.rev for c in cands)),
                entity=entity,
                record_id=canon,
                field=name,
                candidates=[c.to_json() for c in cands],
                winner_rev=winner,
                opened_hlc=max(c.hlc for c in cands),
            )
        )
    heads = session.get(RecordHeads, (entity, canon))
    if len(merged.heads) > 1:
        if heads is None:
            session.add(RecordHeads(entity=entity, record_id=canon, heads=merged.heads))
        else:
            heads.heads = merged.heads
    elif heads is not None:
        session.delete(heads)
    session.flush()


def merge_duplicates(session: Session, entity: str, keep: str, gone: str) -> None:
    """Two records are one (same natural key): the larger id becomes an alias of the smaller,
    references move to it, and the kept record is rebuilt from both records' revisions. Every
    copy picks the same survivor, so they converge without writing any new revision."""
    model = ENTITIES[entity]
    session.add(RecordAlias(entity=entity, alias_id=gone, canonical_id=keep))
    session.execute(
        update(RecordAlias)
        .where(RecordAlias.entity == entity, RecordAlias.canonical_id == gone)
        .values(canonical_id=keep)
    )
    session.flush()
    for ref_model, column in _references(entity):
        ref_entity = ref_model.__tablename__  # type: ignore[attr-defined]
        col = getattr(ref_model, column)
        if column in ref_model.NATURAL_KEY:
            # Moving a station to the kept election may meet its twin there: merge those too.
            for ref_id in list(session.scalars(select(ref_model.id).where(col == gone))):
                rebuild(session, ref_entity, ref_id)
        else:
            session.execute(update(ref_model).where(col == gone).values({column: keep}))
    for tbl in (SyncConflict, RecordHeads):
        session.execute(delete(tbl).where(tbl.entity == entity, tbl.record_id == gone))
    old = _find(session, model, gone)
    if old is not None:
        session.delete(old)
    session.flush()
    rebuild(session, entity, keep)


# --- conflicts ----------------------------------------------------------------------------------


def open_conflict(session: Session, conflict: str) -> SyncConflict:
    row = session.get(SyncConflict, conflict)
    if row is None:
        raise NotFound(f"conflict {conflict}: no such open conflict (see `conflicts list`)")
    return row


def resolve(session: Session, row: SyncConflict, take: str | dict[str, Any]) -> str:
    """Settle a conflict (an open_conflict) with a revision that follows every head of the
    record: "mine" (this laptop's candidate), "theirs" (the latest other candidate) or explicit
    field values. The decision syncs like any edit, so every copy closes the conflict the same
    way."""
    conflict = row.id
    model = ENTITIES[row.entity]
    me = device_id(session)
    columns = [c for c in data_columns(model) if c not in model.NATURAL_KEY]
    current = _find(session, model, row.record_id)
    if isinstance(take, str):
        mine = [c for c in row.candidates if c["device"] == me]
        pool = mine if take == "mine" else [c for c in row.candidates if c["device"] != me]
        if take not in ("mine", "theirs"):
            raise InvalidInput(f"--take {take}: say mine, theirs or FIELD=VALUE")
        if not pool:
            who = "this laptop" if take == "mine" else "another laptop"
            raise InvalidInput(f"conflict {conflict}: no candidate is from {who}")
        chosen = max(pool, key=lambda c: (c["hlc"], c["rev"]))["value"]
        fields = dict(chosen) if row.field == WHOLE_RECORD else {row.field: chosen}
    else:
        allowed = columns if row.field == WHOLE_RECORD else [row.field]
        wrong = sorted(set(take) - set(allowed))
        if wrong:
            raise InvalidInput(
                f"conflict {conflict} is about {row.field!r}, not {', '.join(wrong)}"
            )
        fields = dict(take)
        if row.field == WHOLE_RECORD and current is not None:
            fields = field_values(current, columns) | fields
    heads = session.get(RecordHeads, (row.entity, row.record_id))
    parents = record_parents(current.rev if current else None, heads)
    last = last_hlc(session)
    rev_id = uuid7()
    begin_applying(session)
    session.add(
        Revision(
            rev_id=rev_id,
            entity=row.entity,
            record_id=row.record_id,
            op="resolve",
            parents=parents,
            device_id=me,
            hlc=next_hlc(last, me),
            fields=fields,
            created_at=utcnow(),
        )
    )
    audit.append(
        session,
        me,
        "resolve",
        row.entity,
        row.record_id,
        {"conflict": conflict, "rev": rev_id, "fields": sorted(fields)},
    )
    session.flush()
    rebuild(session, row.entity, row.record_id)
    return rev_id


def parse_value(entity: str, field_name: str, text: str) -> Any:
    """A value typed on the command line, read as the column's type."""
    model = ENTITIES[entity]
    if field_name not in model.__table__.columns:  # type: ignore[attr-defined]
        raise InvalidInput(f"{entity} has no field {field_name!r}")
    column = model.__table__.columns[field_name]  # type: ignore[attr-defined]
    if isinstance(column.type, UTCDateTime):
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{field_name}={text}: not a time like 2024-03-17T20:05+05:00"
            ) from None
        if when.tzinfo is None:
            raise InvalidInput(f"{field_name}={text}: give the time zone, e.g. +05:00")
        return to_utc_text(when)
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = object
    if kind is str:
        return text
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(f"{field_name}={text}: not a valid value (use JSON for lists)") from None
