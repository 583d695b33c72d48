"""The before_flush hook (storage.revisions) on big flushes: a fresh store's first flush of many
records, and one transaction editing many records that sync has merged (several heads, open
conflicts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.errors import NotFound
from app.store import Store
from app.sync.conflicts import resolve_conflict
from app.sync.merge import apply_revisions
from app.sync.wire import WireRevision
from storage import audit
from storage.ids import uuid7
from storage.models import (
    Election,
    Protocol,
    RecordHeads,
    Revision,
    Setting,
    Station,
    SyncConflict,
)
from storage.revisions import DEVICE_KEY, WHOLE_RECORD, device_id

STATIONS = 1_200  # more than two of the hook's IN lists (500 ids each)
PROTOCOLS = 30


def _audit_ok(store: Store, events: int) -> None:
    with store.db.read() as s:
        report = audit.verify(s)
        assert report.ok, report.problems
        assert report.events == events


def test_a_fresh_stores_first_flush_of_many_records_chains_one_audit_log(tmp_path: Path) -> None:
    with Store(tmp_path / "a") as store:
        with store.db.write() as s:
            for n in range(5):
                s.add(Election(name=f"Выборы {n}", date="2024-03-17"))
            s.flush()
        _audit_ok(store, 5)
        with store.db.read() as s:
            assert s.scalar(select(func.count()).select_from(Setting)) == 2  # device, audit head


def test_a_device_id_asked_before_the_first_flush_is_the_one_the_revisions_carry(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "a") as store:
        with store.db.write() as s:
            me = device_id(s)
            s.add(Election(name="Выборы", date="2024-03-17"))
        with store.db.read() as s:
            assert s.get(Setting, DEVICE_KEY).value == me  # type: ignore[union-attr]
            assert set(s.scalars(select(Revision.device_id))) == {me}
        _audit_ok(store, 1)


def _foreign(
    rev_of: dict[str, str], entity: str, fields: dict[str, dict[str, object]]
) -> list[WireRevision]:
    """Another laptop's edits, each concurrent with this copy's last edit of the record."""
    other = uuid7()
    return [
        WireRevision(
            rev_id=uuid7(),
            entity=entity,
            record_id=record_id,
            op="update",
            parents=(rev_of[record_id],),
            device_id=other,
            hlc=f"{9_000_000_000_000 + n:013d}-00000-{other}",
            fields=values,
            created_at="2024-03-17T10:00:00.000000Z",
        )
        for n, (record_id, values) in enumerate(fields.items())
    ]


def test_one_transaction_editing_many_merged_records_follows_their_heads(tmp_path: Path) -> None:
    with Store(tmp_path / "a") as store:
        with store.db.write() as s:
            election = Election(name="Выборы", date="2024-03-17")
            s.add(election)
            s.flush()
            stations = [
                Station(election_id=election.id, code=f"{n:04d}", name=f"УИК {n}")
                for n in range(STATIONS)
            ]
            s.add_all(stations)
            s.flush()
            s.add_all(
                Protocol(station_id=st.id, source="observer", lines={"1": 1})
                for st in stations[:PROTOCOLS]
            )
        with store.db.write() as s:
            created = {st.id: st.rev for st in s.scalars(select(Station))}
            protocols = {p.id: p.rev for p in s.scalars(select(Protocol))}
            for st in s.scalars(select(Station)):
                st.name, st.district = f"{st.name} (здесь)", "здесь"
            for p in s.scalars(select(Protocol)):
                p.lines = {"1": 2}
        with store.db.read() as s:  # a protocol's revision carries the whole protocol
            unit = {p.id: dict(s.get(Revision, p.rev).fields) for p in s.scalars(select(Protocol))}  # type: ignore[union-attr]
        # Every third station (and every protocol) was edited elsewhere too, from its creation.
        merged = sorted(created)[::3]
        with store.db.write() as s:
            apply_revisions(
                s,
                _foreign(
                    {r: str(created[r]) for r in merged},
                    "station",
                    {r: {"name": "там", "district": "там"} for r in merged},
                )
                + _foreign(
                    {p: str(rev) for p, rev in protocols.items()},
                    "protocol",
                    {p: unit[p] | {"lines": {"1": 3}} for p in protocols},
                ),
            )
        with store.db.read() as s:
            heads = {
                (h.entity, h.record_id): sorted(h.heads) for h in s.scalars(select(RecordHeads))
            }
            assert len(heads) == len(merged) + PROTOCOLS
            fields = {(c.entity, c.record_id, c.field) for c in s.scalars(select(SyncConflict))}
            assert {("station", r, f) for r in merged for f in ("name", "district")} | {
                ("protocol", p, WHOLE_RECORD) for p in protocols
            } == fields
            before = {st.id: st.rev for st in s.scalars(select(Station))}
            before |= {p.id: p.rev for p in s.scalars(select(Protocol))}

        with store.db.write() as s:  # one transaction edits every station and protocol
            for st in s.scalars(select(Station)):
                st.name = f"УИК {st.code} (решено)"
            for p in s.scalars(select(Protocol)):
                p.lines = {"1": 4}

        with store.db.read() as s:
            records = [("station", st.id, st.rev) for st in s.scalars(select(Station))]
            records += [("protocol", p.id, p.rev) for p in s.scalars(select(Protocol))]
            assert len(records) == STATIONS + PROTOCOLS
            for entity, record_id, rev in records:
                edit = s.get(Revision, rev)
                assert edit is not None and edit.op == "update"
                assert edit.parents == heads.get((entity, record_id), [before[record_id]])
            assert s.scalar(select(func.count()).select_from(RecordHeads)) == 0
            # The edit settles the conflicts on what it wrote (the name; the whole protocol),
            # and leaves the district's open.
            left = {(c.entity, c.record_id, c.field) for c in s.scalars(select(SyncConflict))}
            assert left == {("station", r, "district") for r in merged}
        _audit_ok(store, 1 + STATIONS + PROTOCOLS + STATIONS + PROTOCOLS + 1 + STATIONS + PROTOCOLS)


def test_an_unknown_conflict_is_not_found_whatever_is_taken(tmp_path: Path) -> None:
    with Store(tmp_path / "a") as store:
        for take in ("mine", "theirs", {"name": "x"}):
            with pytest.raises(NotFound, match="conflict nope: no such open conflict"):
                resolve_conflict(store, " nope ", take)
