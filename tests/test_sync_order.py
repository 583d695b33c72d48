"""Arrival order never matters: two copies that receive the same revisions, shuffled and cut
into pages differently, hold the same records and conflicts. The revisions are made to be hard:
two laptops create the same election, the same stations and the same station's protocol (twins
merged by natural key), edit them concurrently, and a foreign client writes to a field that
identifies a station (which could otherwise decide whether two stations are one)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.elections import list_stations
from app.incidents import edit_incident
from app.store import Store
from app.sync.merge import apply_revisions
from app.sync.wire import WireRevision
from storage.ids import uuid7
from storage.models import Protocol, Revision, Station
from tests.sync_helpers import incident, laptop, snapshot


def _station(store: Store, code: str) -> Station:
    return next(s for s in list_stations(store) if s.code == code)  # type: ignore[return-value]


def _revisions(store: Store) -> list[WireRevision]:
    with store.db.read() as s:
        return [WireRevision.of(r) for r in s.scalars(select(Revision))]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[WireRevision], Path]:
    root = tmp_path_factory.mktemp("order")
    a, b = laptop(root, "a"), laptop(root, "b")  # the same election and station list, twice
    try:
        for store, lines in ((a, {"1": 100, "2": 60}), (b, {"1": 100, "2": 61})):
            with store.db.write() as s:
                s.add(
                    Protocol(
                        station_id=_station(store, "75-001").id, source="observer", lines=lines
                    )
                )
        i = incident(a, "карусель", station="75-002")
        edit_incident(a, i, description="карусель: автобус")
        with b.db.write() as s:
            s.get(Station, _station(b, "75-002").id).name = "УИК 2 (школа)"  # type: ignore[union-attr]
        with a.db.write() as s:
            s.get(Station, _station(a, "75-002").id).name = "УИК № 2"  # type: ignore[union-attr]
        revs = _revisions(a) + _revisions(b)
        # A foreign client renames b's station 75-003 to a's code 75-002, and b's 75-002 away.
        for code, new in (("75-003", "75-002"), ("75-002", "75-009")):
            st_b = _station(b, code)
            with b.db.read() as s:
                parent = s.get(Station, st_b.id).rev  # type: ignore[union-attr]
                device = s.scalar(select(Revision.device_id).limit(1))
                hlc = max(r.hlc for r in revs)
            revs.append(
                WireRevision(
                    rev_id=uuid7(),
                    entity="station",
                    record_id=st_b.id,
                    op="update",
                    parents=(str(parent),),
                    device_id=str(device),
                    hlc=hlc[:13] + "-00099-" + hlc[20:],
                    fields={"code": new},
                    created_at="2024-03-17T10:00:00.000000Z",
                )
            )
    finally:
        a.close()
        b.close()
    Store(root / "empty").close()
    return revs, root / "empty" / "kua.db"


def _apply(root: Path, template: Path, pages: list[list[WireRevision]]) -> dict[str, Any]:
    root.mkdir()
    shutil.copy(template, root / "kua.db")
    store = Store(root)
    try:
        for page in pages:
            with store.db.write() as s:
                apply_revisions(s, page)
        return snapshot(store)
    finally:
        store.close()


def _causal_shuffle(revs: list[WireRevision], data: st.DataObject) -> list[WireRevision]:
    """Any order a server or a bundle could deliver: a revision after its parents and after the
    creation of every record it refers to (pushes go in clock order), otherwise random."""
    creation = {r.record_id: r.rev_id for r in revs if r.op == "create"}
    needs = {
        r.rev_id: set(r.parents)
        | {creation[v] for v in r.fields.values() if isinstance(v, str) and v in creation}
        - {r.rev_id}
        for r in revs
    }
    placed: list[WireRevision] = []
    done: set[str] = set()
    left = list(revs)
    while left:
        ready = [r for r in left if needs[r.rev_id] <= done]
        pick = ready[data.draw(st.integers(0, len(ready) - 1))]
        placed.append(pick)
        done.add(pick.rev_id)
        left.remove(pick)
    return placed


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_order_and_any_paging_gives_the_same_records(
    history: tuple[list[WireRevision], Path],
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    revs, template = history
    tmp = tmp_path_factory.mktemp("copy")
    expected = _apply(tmp / "all", template, [sorted(revs, key=lambda r: r.hlc)])
    shuffled = _causal_shuffle(revs, data)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(revs) - 1), max_size=8)))
    pages = [shuffled[i:j] for i, j in zip([0, *cuts], [*cuts, len(revs)], strict=True)]
    assert _apply(tmp / "shuffled", template, pages) == expected


def test_twins_merge_and_a_foreign_write_to_a_key_stays_history(
    history: tuple[list[WireRevision], Path], tmp_path: Path
) -> None:
    revs, template = history
    shot = _apply(tmp_path / "all", template, [revs])
    assert len(shot["election"]) == 1
    assert sorted(s["code"] for s in shot["station"]) == ["75-001", "75-002", "75-003"]
    assert len(shot["protocol"]) == 1
    assert sorted(c[1] for c in shot["conflicts"]) == ["*", "name"]  # the figures, station 2's name


def test_a_local_edit_of_a_natural_key_is_refused(tmp_path: Path) -> None:
    store = laptop(tmp_path, "a")
    try:
        with pytest.raises(ValueError, match="fixed at creation"), store.db.write() as s:
            s.get(Station, _station(store, "75-001").id).code = "75-009"  # type: ignore[union-attr]
        assert sorted(s.code for s in list_stations(store)) == ["75-001", "75-002", "75-003"]
    finally:
        store.close()
