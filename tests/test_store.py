"""The local store: schema and migrations, revisions, audit chain, full-text search, blobs."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from app.audit import verify_audit
from app.elections import import_stations, list_stations
from app.errors import InvalidInput, KuaError, NotFound
from app.incidents import (
    IncidentDraft,
    IncidentFilter,
    add_incident,
    count_incidents,
    edit_incident,
    fts_query,
    get_incident,
    incident_nums,
    list_incidents,
    set_deleted,
)
from app.store import Store
from storage.blobs import BlobStore
from storage.db import create_sqlite_engine, head_revision, include_name, upgrade
from storage.models import Base, Revision

FIXTURES = Path(__file__).parent / "fixtures"
ALMATY = timezone(timedelta(hours=6))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data")
    import_stations(s, FIXTURES / "stations" / "almaty.csv")
    yield s
    s.close()


def log(store: Store, text: str, code: str = "75-001", **kw: object) -> str:
    draft = IncidentDraft(
        station_code=code,
        category=str(kw.pop("category", "ballot_stuffing")),
        observed_at=datetime(2024, 3, 17, 14, 5, tzinfo=ALMATY),
        description=text,
        **kw,  # type: ignore[arg-type]
    )
    return add_incident(store, draft).id


def raw(store: Store) -> sqlite3.Connection:
    return sqlite3.connect(store.db_path)


def test_pragmas_wal_foreign_keys_full_sync(store: Store) -> None:
    with store.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_every_change_writes_a_revision_in_the_same_transaction(store: Store) -> None:
    iid = log(store, "Вброс")
    edit_incident(store, iid, status="verified", description="Вброс пачки")
    set_deleted(store, iid, True)
    with store.db.read() as s:
        revs = s.scalars(
            select(Revision).where(Revision.record_id == iid).order_by(Revision.hlc)
        ).all()
    assert [r.op for r in revs] == ["create", "update", "delete"]
    assert revs[0].fields["description"] == "Вброс"
    assert revs[1].fields == {"status": "verified", "description": "Вброс пачки"}
    assert revs[1].parents == [revs[0].rev_id] and revs[2].parents == [revs[1].rev_id]
    assert all(r.server_seq is None for r in revs)  # all still in the outbox
    # A failed write leaves neither the change nor its revision behind.
    before = len(revs)
    with pytest.raises(InvalidInput):
        edit_incident(store, iid, status="no-such-status")
    with store.db.read() as s:
        assert len(s.scalars(select(Revision).where(Revision.record_id == iid)).all()) == before


def test_ids_are_uuid7_and_time_ordered(store: Store) -> None:
    a, b = log(store, "один"), log(store, "два")
    assert a[14] == "7" and b[14] == "7"
    assert a < b


def test_tombstone_hides_but_keeps_and_restores(store: Store) -> None:
    iid = log(store, "Карусель")
    set_deleted(store, iid, True)
    assert count_incidents(store, IncidentFilter()) == 0
    with pytest.raises(NotFound):
        get_incident(store, iid)
    assert get_incident(store, iid, allow_deleted=True).deleted
    set_deleted(store, iid, False)
    assert [i.id for i in list_incidents(store, IncidentFilter())] == [iid]


@pytest.mark.parametrize(
    ("query", "hit"),
    [
        ("вброс", True),
        ("ВБРОС", True),
        ("вбр", True),  # prefix, as typed
        ("бюллетеней урну", True),
        ("ӘКІМДІК", True),  # Kazakh upper case
        ("әкім", True),  # Kazakh prefix
        ("қызметкерлері", True),
        ("ёлка", True),
        ("елка", True),  # ё and е are one letter to a searcher
        ("ЁЛКА", True),
        ("Сейітов", True),  # witnesses are searchable
        ("карусель", False),
        ('"; DROP TABLE incident; --', False),  # syntax characters are just text
        ("AND OR NOT *", False),
    ],
)
def test_full_text_search_any_case_russian_and_kazakh(store: Store, query: str, hit: bool) -> None:
    log(store, "Вброс бюллетеней в урну №2 у ёлки", witnesses=("Сейітов Қ.",))
    log(store, "Әкімдік қызметкерлерін мәжбүрлеп әкелді, ёлка", category="coercion")
    found = list_incidents(store, IncidentFilter(search=query))
    assert bool(found) is hit


def test_search_follows_edits_and_filters_combine(store: Store) -> None:
    a = log(store, "Автобусы с работниками", category="organized_transport")
    log(store, "Автобус у участка", code="75-002", category="organized_transport")
    edit_incident(store, a, description="Грузовик с работниками")
    assert len(list_incidents(store, IncidentFilter(search="автобус"))) == 1
    assert len(list_incidents(store, IncidentFilter(search="грузовик"))) == 1
    assert (
        len(list_incidents(store, IncidentFilter(search="автобус", station_codes=("75-001",)))) == 0
    )
    since = datetime(2024, 3, 17, 8, 0, tzinfo=UTC)  # 14:05 in Almaty is 08:05 UTC
    assert len(incident_nums(store, IncidentFilter(since=since))) == 2
    assert len(incident_nums(store, IncidentFilter(until=since))) == 0


def test_fts_query_quotes_every_word() -> None:
    assert fts_query("Вброс  бюлл") == '"вброс"* "бюлл"*'
    assert fts_query("ЁЖ") == '"еж"*'
    assert fts_query(' -*"() ') is None


def test_bad_input_is_refused_with_the_field_named(store: Store) -> None:
    with pytest.raises(NotFound, match="station '99-999'"):
        log(store, "x", code="99-999")
    with pytest.raises(InvalidInput, match="category"):
        log(store, "x", category="nonsense")
    with pytest.raises(InvalidInput, match="text"):
        log(store, "   ")
    naive = IncidentDraft("75-001", "other", datetime(2024, 3, 17, 14, 5), "x")
    with pytest.raises(InvalidInput, match="time zone"):
        add_incident(store, naive)
    assert count_incidents(store) == 0


def test_observed_at_keeps_its_offset(store: Store) -> None:
    iid = log(store, "x")
    v = get_incident(store, iid)
    assert v.observed_at == datetime(2024, 3, 17, 14, 5, tzinfo=ALMATY)
    assert v.observed_at.utcoffset() == timedelta(hours=6)


def test_station_reimport_updates_by_code_and_counts(store: Store, tmp_path: Path) -> None:
    log(store, "x")
    csv = tmp_path / "update.csv"
    csv.write_text(
        "code,name,region,district,address,registered_voters\n"
        "75-001,Новое имя,г. Алматы,Әуезов ауданы,ул. Новая 1,1500\n",
        encoding="utf-8",
    )
    r = import_stations(store, csv)
    assert (r.created, r.updated) == (0, 1)
    st = {s.code: s for s in list_stations(store)}
    assert st["75-001"].name == "Новое имя" and st["75-001"].registered_voters == 1500
    assert st["75-001"].incidents == 1 and len(st) == 15


def test_bad_station_file_imports_nothing(store: Store) -> None:
    before = list_stations(store)
    with pytest.raises(InvalidInput, match=r"broken\.csv line \d+"):
        import_stations(store, FIXTURES / "stations" / "broken.csv")
    assert list_stations(store) == before


def test_audit_chain_detects_edit_delete_and_truncation(store: Store) -> None:
    for n in range(4):
        log(store, f"событие {n}")
    report = verify_audit(store)
    assert report.ok and report.events >= 5

    con = raw(store)
    con.execute("UPDATE audit_event SET detail = '{\"fields\": []}' WHERE seq = 3")
    con.commit()
    assert any("event 3" in p and "altered" in p for p in verify_audit(store).problems)


@pytest.mark.parametrize("which", ["middle", "last"])
def test_audit_chain_detects_deleted_events(store: Store, which: str) -> None:
    for n in range(3):
        log(store, f"событие {n}")
    con = raw(store)
    last = con.execute("SELECT max(seq) FROM audit_event").fetchone()[0]
    con.execute("DELETE FROM audit_event WHERE seq = ?", (2 if which == "middle" else last,))
    con.commit()
    assert not verify_audit(store).ok


def test_blob_store_writes_once_and_read_only(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    sha = blobs.put_bytes(b"protocol photo")
    path = blobs.path(sha)
    assert path.parent.name == sha[:2] and path.name == sha[2:]
    assert blobs.put_bytes(b"protocol photo") == sha
    assert list(blobs.all_hashes()) == [sha]
    assert not path.stat().st_mode & 0o222
    assert blobs.verify(sha) is None
    path.chmod(0o644)
    path.write_bytes(b"edited")
    assert "corrupt" in (blobs.verify(sha) or "")
    leftover = path.parent / ".incoming-abc"
    leftover.write_bytes(b"half")
    assert blobs.remove_leftovers() == 0  # may be another process's write in progress
    os.utime(leftover, (0, 0))
    assert blobs.remove_leftovers() == 1 and not leftover.exists()


def test_database_from_first_migration_opens_in_latest_with_all_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    engine = create_sqlite_engine(data / "kua.db")
    upgrade(engine, "0001")  # the first release's schema, before full-text search existed
    engine.dispose()
    con = sqlite3.connect(data / "kua.db")
    now = "2024-03-17T08:05:00.000000Z"
    bookkeeping = (now, now, 0)
    con.execute(
        "INSERT INTO election (id, name, date, kind, country_profile, created_at, updated_at,"
        " deleted) VALUES ('e1', 'Выборы', '2024-03-17', 'presidential', 'kz-presidential',"
        " ?, ?, ?)",
        bookkeeping,
    )
    con.execute(
        "INSERT INTO station (id, election_id, code, name, region, district, address, created_at,"
        " updated_at, deleted) VALUES ('s1', 'e1', '75-001', 'УИК 1', '', '', '', ?, ?, ?)",
        bookkeeping,
    )
    con.execute(
        "INSERT INTO incident (num, id, station_id, observed_at, observed_tz, category, severity,"
        " status, description, witnesses, created_at, updated_at, deleted) VALUES"
        " (1, 'i1', 's1', ?, 360, 'carousel', 'minor', 'new', 'Карусель у школы', '[]', ?, ?, ?)",
        (now, *bookkeeping),
    )
    con.commit()
    con.close()

    with Store(data) as store:
        hits = list_incidents(store, IncidentFilter(search="КАРУСЕЛЬ"))
        assert [i.id for i in hits] == ["i1"]
        assert hits[0].station_code == "75-001"
        with store.db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    assert (data / f"kua.db.before-{head_revision()}").exists()  # the copy taken before upgrading


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the migration marker and the full-text index's own."""
    con = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != "alembic_version" and not name.startswith("incident_fts")
        ]
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}
    finally:
        con.close()


def test_store_at_0003_with_revisions_upgrades_to_0004_losing_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0004 rebuilds the revision table (SQLite batch mode): every row must come through."""
    import storage.db

    data = tmp_path / "data"
    with monkeypatch.context() as m:  # the app as released with 0003
        m.setattr(storage.db, "head_revision", lambda: "0003")
        m.setattr(storage.db, "upgrade", lambda engine: upgrade(engine, "0003"))
        with Store(data) as old:
            import_stations(old, FIXTURES / "stations" / "almaty.csv")
            kept = log(old, "Карусель у школы", witnesses=["Әсел Қасымова"])
            edit_incident(old, kept, status="verified")
            set_deleted(old, log(old, "удалённая запись"), True)
            with old.db.write() as s:  # as if acknowledged by a team server
                for n, rev in enumerate(s.scalars(select(Revision).order_by(Revision.hlc))):
                    rev.server_seq = n + 1
            with old.db.engine.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == "0003"
    before = _rows(data / "kua.db")
    assert len(before["revision"]) > 10
    assert {len(hlc) for (_, _, _, _, _, _, hlc, *_) in before["revision"]} == {56}

    with Store(data) as store:
        with store.db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == "0004"
            ctx = MigrationContext.configure(conn, opts={"include_name": include_name})
            assert compare_metadata(ctx, Base.metadata) == []
        assert _rows(data / "kua.db") == before
        assert [i.id for i in list_incidents(store, IncidentFilter(search="карусель"))] == [kept]
        assert [i.id for i in list_incidents(store, IncidentFilter(search="ӘСЕЛ"))] == [kept]
        # The triggers still keep the index current after the table rebuild.
        added = log(store, "Вброс бюллетеней")
        assert [i.id for i in list_incidents(store, IncidentFilter(search="вброс"))] == [added]
        assert verify_audit(store).ok
    assert (data / "kua.db.before-0004").exists()


def test_migrations_match_the_models(tmp_path: Path) -> None:
    with Store(tmp_path) as store, store.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_a_damaged_database_file_is_explained(tmp_path: Path) -> None:
    (tmp_path / "kua.db").write_bytes(b"this is not a database, it is a shopping list" * 100)
    with pytest.raises(KuaError, match="damaged or not a Kuä database"):
        Store(tmp_path)
