"""Sync through a real team server (uvicorn in a subprocess on loopback) and by bundle files.

Set KUA_TEST_PG_URL (postgresql+psycopg://...) to run the server on PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import json
import socket
import stat
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from app.cli import main
from app.elections import list_stations
from app.errors import KuaError
from app.incidents import edit_incident, get_incident, set_deleted
from app.server.admin import add_device, create_team, revoke_device
from app.server.models import Device
from app.store import Store
from app.sync import blobs as sync_blobs
from app.sync import client as sync_client
from app.sync import wire
from app.sync.bundle import BundleError, export_bundle, import_bundle
from app.sync.client import SyncError, enrol, sync_once, sync_status
from app.sync.conflicts import list_conflicts, resolve_conflict
from app.sync.wire import WireRevision
from storage.models import Revision, Setting
from storage.revisions import DEVICE_KEY
from tests.sync_helpers import (
    attach_bytes,
    incident,
    laptop,
    random_bytes,
    running_server,
    server_db,
    sha,
    snapshot,
)

MAX_BODY = 2 * 1024 * 1024  # the test server's body limit (the default is larger)


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    db: str  # its database URL, for the admin commands
    blobs: Path

    def team(self, name: str, *devices: str) -> dict[str, str]:
        """A new team and an enrolment code for each device label."""
        create_team(self.db, name)
        return {d: add_device(self.db, name, d).code for d in devices}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    db = server_db(root)
    with running_server(root, db, "--max-body", str(MAX_BODY)) as (url, _proc):
        yield Server(url, db, root / "blobs")


_teams = iter(range(10**6))


@pytest.fixture
def team(server: Server, tmp_path: Path) -> Any:
    """enrolled(name) -> a laptop enrolled in this test's own team."""
    name = f"team-{next(_teams)}-{tmp_path.name}"
    create_team(server.db, name)

    stores: list[Store] = []

    def enrolled(label: str, *, election: bool = True) -> Store:
        store = laptop(tmp_path, label, election=election)
        enrol(store, server.url, add_device(server.db, name, label).code)
        stores.append(store)
        return store

    enrolled.name = name  # type: ignore[attr-defined]
    yield enrolled
    for s in stores:
        s.close()


def sync_all(*stores: Store, rounds: int = 2) -> None:
    for _ in range(rounds):
        for s in stores:
            sync_once(s)


# --- convergence ---------------------------------------------------------------------------


def test_two_laptops_converge_and_share_one_station_per_code(team: Any) -> None:
    a, b = team("aigerim"), team("bolat")
    i1 = incident(a, "Карусель: автобус у школы")
    i2 = incident(b, "Наблюдателя не пустили", station="75-002")
    sync_all(a, b)
    assert snapshot(a) == snapshot(b)
    # Both imported the same list: one station per code, the smaller id kept on both.
    codes = [s.code for s in list_stations(a)]
    assert codes == ["75-001", "75-002", "75-003"]
    assert [s.id for s in list_stations(a)] == [s.id for s in list_stations(b)]
    assert get_incident(b, i1).description == "Карусель: автобус у школы"
    assert get_incident(a, i2).station_code == "75-002"
    # Different fields changed on both: merged, no conflict.
    edit_incident(a, i1, status="verified")
    edit_incident(b, i1, description="Карусель: два автобуса")
    sync_all(a, b)
    for s in (a, b):
        v = get_incident(s, i1)
        assert (v.status, v.description) == ("verified", "Карусель: два автобуса")
        assert list_conflicts(s) == []
        st = sync_status(s)
        assert st.pending_revisions == 0 and st.open_conflicts == 0 and st.last_sync


def test_three_laptops_converge(team: Any) -> None:
    laptops = [team(n) for n in ("a", "b", "c")]
    ids = [incident(s, f"от {i}") for i, s in enumerate(laptops)]
    edit_incident(laptops[2], ids[2], severity="serious")
    sync_all(*laptops)
    snaps = [snapshot(s) for s in laptops]
    assert snaps[0] == snaps[1] == snaps[2]
    assert len(snaps[0]["incident"]) == 3 and len(snaps[0]["station"]) == 3


def test_same_field_conflict_is_the_same_on_both_and_can_be_decided(team: Any) -> None:
    a, b = team("a"), team("b")
    i = incident(a, "исходный текст")
    sync_all(a, b)
    edit_incident(a, i, description="версия A")
    edit_incident(b, i, description="версия B")
    sync_all(a, b)
    ca, cb = list_conflicts(a), list_conflicts(b)
    assert [c.id for c in ca] == [c.id for c in cb] and len(ca) == 1
    assert ca[0].winner_rev == cb[0].winner_rev
    assert {c["value"] for c in ca[0].candidates} == {"версия A", "версия B"}
    assert get_incident(a, i).description == get_incident(b, i).description
    resolve_conflict(b, cb[0].id, "theirs")  # b takes a's text
    sync_all(a, b)
    assert list_conflicts(a) == list_conflicts(b) == []
    assert get_incident(a, i).description == get_incident(b, i).description == "версия A"


def test_protocol_merges_as_one_unit(team: Any) -> None:
    from storage.models import Protocol

    a, b = team("a"), team("b")
    with a.db.write() as s:
        st = list_stations(a)[0]
        p = Protocol(station_id=st.id, source="observer", lines={"1": 100, "2": 60, "3": 40})
        s.add(p)
        s.flush()
        pid = p.id
    sync_all(a, b)
    for store, lines in ((a, {"1": 100, "2": 70, "3": 30}), (b, {"1": 100, "2": 55, "3": 45})):
        with store.db.write() as s:
            row = s.scalars(select(Protocol).where(Protocol.id == pid)).one()
            row.lines = lines
    sync_all(a, b)
    conflicts = list_conflicts(a)
    assert [c.field for c in conflicts] == ["*"]
    assert [c.id for c in conflicts] == [c.id for c in list_conflicts(b)]
    with a.db.read() as s:
        shown = s.scalars(select(Protocol).where(Protocol.id == pid)).one().lines
    assert shown in ({"1": 100, "2": 70, "3": 30}, {"1": 100, "2": 55, "3": 45})  # never mixed


def test_two_laptops_entering_one_protocol_get_one_record_and_a_conflict(team: Any) -> None:
    """A station's protocol from one source is one record (its natural key), so two laptops
    entering it offline never end with two; differing figures are a conflict to decide."""
    from storage.models import Protocol

    a, b = team("a"), team("b")
    sync_all(a, b)  # both know the same stations
    figures = {a: {"1": 100, "2": 60, "3": 40}, b: {"1": 100, "2": 61, "3": 39}}
    for store, lines in figures.items():
        with store.db.write() as s:
            st = list_stations(store)[0]
            s.add(Protocol(station_id=st.id, source="observer", lines=lines))
    sync_all(a, b)
    for store in (a, b):
        with store.db.read() as s:
            rows = s.scalars(select(Protocol).where(Protocol.deleted.is_(False))).all()
        assert len(rows) == 1 and rows[0].lines in figures.values()
    assert [c.field for c in list_conflicts(a)] == ["*"]
    assert [c.id for c in list_conflicts(a)] == [c.id for c in list_conflicts(b)]


def test_edit_against_delete_keeps_the_record_and_asks(team: Any) -> None:
    a, b = team("a"), team("b")
    i = incident(a, "вброс бюллетеней")
    sync_all(a, b)
    set_deleted(a, i, True)
    edit_incident(b, i, description="вброс бюллетеней: видео есть")
    sync_all(a, b)
    for s in (a, b):
        v = get_incident(s, i)  # not deleted
        assert v.description == "вброс бюллетеней: видео есть"
        assert [c.field for c in list_conflicts(s)] == ["deleted"]
    # Deciding for the deletion deletes it everywhere.
    resolve_conflict(a, list_conflicts(a)[0].id, "mine")
    sync_all(a, b)
    for s in (a, b):
        assert get_incident(s, i, allow_deleted=True).id == i
        with pytest.raises(KuaError):
            get_incident(s, i)
        assert list_conflicts(s) == []


def test_a_clock_days_off_loses_nothing(team: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = team("a"), team("b")
    i = incident(a, "исходный")
    sync_all(a, b)
    real = time.time_ns
    with monkeypatch.context() as m:  # a's clock runs three days ahead
        m.setattr(time, "time_ns", lambda: real() + 3 * 86400 * 10**9)
        edit_incident(a, i, description="с часами на три дня вперёд")
    edit_incident(b, i, description="с верными часами")
    sync_all(a, b)
    (c,) = list_conflicts(b)
    assert {x["value"] for x in c.candidates} == {"с часами на три дня вперёд", "с верными часами"}
    # An edit made after seeing the skewed one wins by causality, whatever the clocks say.
    resolve_conflict(b, c.id, {"description": "согласовано"})
    edit_incident(b, i, reporter="Бахыт")
    sync_all(a, b)
    for s in (a, b):
        v = get_incident(s, i)
        assert (v.description, v.reporter) == ("согласовано", "Бахыт")
        with s.db.read() as ses:  # and both old values stay in the history
            values = {r.fields.get("description") for r in ses.scalars(select(Revision))}
        assert {"с часами на три дня вперёд", "с верными часами"} <= values


def test_replayed_push_changes_nothing(team: Any, server: Server) -> None:
    a = team("a")
    incident(a, "раз")
    with a.db.read() as s:
        batch = [WireRevision.of(r).to_json() for r in s.scalars(select(Revision))]
    token = sync_client.load_token(a)
    headers = sync_client._headers(token)
    first = httpx.post(f"{server.url}/v1/push", json={"revisions": batch}, headers=headers)
    again = httpx.post(f"{server.url}/v1/push", json={"revisions": batch}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert {r["status"] for r in first.json()["results"]} == {"stored"}
    assert {r["status"] for r in again.json()["results"]} == {"duplicate"}
    assert [r["seq"] for r in first.json()["results"]] == [
        r["seq"] for r in again.json()["results"]
    ]
    assert first.json()["last_seq"] == again.json()["last_seq"]
    # The client's own sync after that sends them again: still nothing new on the server.
    assert sync_once(a).pushed == len(batch)
    page = httpx.get(f"{server.url}/v1/pull", params={"after": 0, "limit": 500}, headers=headers)
    assert len(page.json()["revisions"]) == len(batch)


def test_pull_comes_in_pages(team: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = team("a"), team("b", election=False)
    for n in range(7):
        incident(a, f"инцидент {n}")
    sync_once(a)
    monkeypatch.setattr(sync_client, "FIRST_PULL_PAGE", 2)
    monkeypatch.setattr(sync_client, "PULL_PAGE", 4)
    notes: list[tuple[int, int]] = []

    def note(stage: str, done: int, total: int) -> None:
        if stage == "pull":
            notes.append((done, total))

    report = sync_once(b, note)
    assert report.pages >= 3 and report.pulled > 7
    assert snapshot(a) == snapshot(b)
    # Progress counts along the team's sequence: up to the whole of it, never past it.
    total = notes[-1][1]
    assert notes[-1] == (total, total) and total >= report.pulled
    assert [d for d, _ in notes] == sorted({d for d, _ in notes}) and notes[0][0] <= 2


def test_a_pull_page_travels_compressed(team: Any, server: Server) -> None:
    a = team("a")
    for n in range(20):
        incident(a, f"Карусель у участка {n}: два автобуса из әкімдік")
    sync_once(a)
    headers = sync_client._headers(sync_client.load_token(a))
    with httpx.Client(base_url=server.url, headers=headers) as http:
        plain = http.get("/v1/pull", params={"limit": 500}, headers={"Accept-Encoding": "identity"})
        packed = http.get("/v1/pull", params={"limit": 500})  # httpx takes gzip
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) * 4 < len(plain.content)
    assert packed.json() == plain.json()  # the same page, unpacked by the client


# --- evidence files ----------------------------------------------------------------------------


class CutAfter(httpx.HTTPTransport):
    """A connection that breaks on the n-th chunk upload (a laptop losing its network)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.puts = n, []  # type: ignore[var-annotated]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            self.puts.append(int(request.url.params["offset"]))
            if len(self.puts) == self.n:
                raise httpx.WriteError("network gone")
        return super().handle_request(request)


def test_blob_upload_resumes_and_pending_evidence_arrives(
    team: Any, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_blobs, "UPLOAD_CHUNK", 64 * 1024)
    monkeypatch.setattr(sync_blobs, "DOWNLOAD_CHUNK", 100 * 1024)
    a, b = team("a"), team("b")
    data = random_bytes(300 * 1024, seed=1)
    i = incident(a, "фото протокола")
    digest = attach_bytes(a, i, data)
    cut = CutAfter(3)
    with httpx.Client(base_url=server.url, transport=cut) as http, pytest.raises(SyncError):
        sync_once(a, http=http)
    assert cut.puts == [0, 65536, 131072]
    # b has the record already, but not the bytes: pending, never an error.
    sync_once(b)
    assert sync_blobs.evidence_state(b, digest) == "pending"
    assert sync_status(b).evidence_pending == 1
    assert get_incident(b, i).evidence[0].sha256 == digest
    # Resuming continues at the offset the server has, not from the start.
    resumed = CutAfter(0)
    with httpx.Client(base_url=server.url, transport=resumed) as http:
        assert sync_once(a, http=http).uploaded == 1
    assert resumed.puts == [131072, 196608, 262144]
    report = sync_once(b)
    assert report.downloaded == 1 and report.evidence_pending == 0
    assert b.blobs.read(digest) == data and sync_blobs.evidence_state(b, digest) == "present"
    # A third laptop with the same photo does not send it again.
    c = team("c")
    attach_bytes(c, incident(c, "то же фото"), data)
    assert sync_once(c).uploaded == 0


def test_a_cut_chunk_leaves_the_upload_where_it_was(team: Any, server: Server) -> None:
    a = team("a")
    data = random_bytes(200_000, seed=2)
    digest = sha(data)
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"PUT /v1/blobs/{digest}?offset=0&size={len(data)} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {sync_client.load_token(a)}\r\n"
        f"Kua-Protocol: {wire.PROTOCOL}\r\nKua-Schema: {wire.SCHEMA}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + data[:50_000])  # the connection drops mid-chunk
    headers = sync_client._headers(sync_client.load_token(a))
    # Bytes of a chunk are kept only once the whole chunk has arrived: nothing half-written.
    state = httpx.get(f"{server.url}/v1/blobs/{digest}/upload", headers=headers).json()
    assert state == {"offset": 0, "complete": False}
    attach_bytes(a, incident(a, "x"), data)
    assert sync_once(a).uploaded == 1


# --- bundles -------------------------------------------------------------------------------


def test_bundle_moves_everything_and_importing_again_changes_nothing(tmp_path: Path) -> None:
    a, b = laptop(tmp_path, "a"), laptop(tmp_path, "b")
    i = incident(a, "без интернета")
    digest = attach_bytes(a, i, random_bytes(5000, seed=3))
    old = export_bundle(a, tmp_path / "old.kua")
    edit_incident(a, i, status="verified")
    new = export_bundle(a, tmp_path / "new.kua")
    first = import_bundle(b, Path(new.path))
    assert first.new > 0 and first.blobs == 1
    assert get_incident(b, i).status == "verified" and b.blobs.has(digest)
    before = snapshot(b)
    again, older = import_bundle(b, Path(new.path)), import_bundle(b, Path(old.path))
    assert again.new == older.new == 0 and snapshot(b) == before
    # And back: b's bundle brings b's stations to a, which merge with a's by code.
    import_bundle(a, Path(export_bundle(b, tmp_path / "b.kua", for_device=None).path))
    assert snapshot(a) == snapshot(b)
    with zipfile.ZipFile(new.path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "kua-bundle" and manifest["covers"]["blobs"] == 1
    assert set(manifest["members"]) == set(zf.namelist()) - {"manifest.json"}
    a.close()
    b.close()


def test_a_damaged_bundle_is_refused_whole(tmp_path: Path) -> None:
    a, b = laptop(tmp_path, "a"), laptop(tmp_path, "b", election=False)
    incident(a, "текст")
    path = Path(export_bundle(a, tmp_path / "a.kua").path)
    raw = path.read_bytes()
    cut = tmp_path / "cut.kua"
    cut.write_bytes(raw[: len(raw) // 2])
    edited = tmp_path / "edited.kua"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "revisions.json":
                body = body.replace("текст".encode(), "ложь".encode())
            dst.writestr(item, body)
    before = snapshot(b)
    for bad, words in ((cut, "cut short"), (edited, "changed after the bundle was made")):
        with pytest.raises(BundleError, match=words):
            import_bundle(b, bad)
    assert snapshot(b) == before
    a.close()
    b.close()


# --- security, limits and versions ------------------------------------------------------------


def test_requests_without_a_valid_token_are_refused(team: Any, server: Server) -> None:
    a = team("a")
    incident(a, "секрет команды A")
    sync_once(a)
    v = sync_client._headers(None)
    pull = f"{server.url}/v1/pull"
    r = httpx.get(pull, headers=v)
    assert (r.status_code, r.json()["error"]) == (401, "token_missing")
    r = httpx.get(pull, headers=v | {"Authorization": "Bearer " + "0" * 64})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_token")
    # Another team's device sees nothing of team A, and cannot fetch its files.
    codes = server.team(f"other-{team.name}", "x")
    other = sync_client._headers(
        httpx.post(f"{server.url}/v1/enrol", json={"code": codes["x"]}, headers=v).json()["token"]
    )
    assert httpx.get(pull, headers=other).json()["revisions"] == []
    data = random_bytes(1000, seed=4)
    attach_bytes(a, incident(a, "фото"), data)
    sync_once(a)
    r = httpx.get(f"{server.url}/v1/blobs/{sha(data)}", headers=other)
    assert (r.status_code, r.json()["error"]) == (404, "no_such_blob")
    r = httpx.post(f"{server.url}/v1/blobs/missing", json={"sha256": [sha(data)]}, headers=other)
    assert r.json()["missing"] == [sha(data)]
    # A used enrolment code does not work twice; a revoked device is refused.
    r = httpx.post(f"{server.url}/v1/enrol", json={"code": codes["x"]}, headers=v)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_enrolment_code")
    revoke_device(server.db, team.name, "a")
    with pytest.raises(SyncError) as err:
        sync_once(a)
    assert err.value.reason == "token_revoked" and err.value.status == 401


def test_bad_input_gets_a_4xx_and_stores_nothing(team: Any, server: Server) -> None:
    a = team("a")
    h = sync_client._headers(sync_client.load_token(a))
    push = f"{server.url}/v1/push"
    r = httpx.post(
        push, content=b'{"revisions": [', headers=h | {"Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["error"]) == (400, "malformed_json")
    r = httpx.post(push, json={"revisions": [{"rev_id": "x"}]}, headers=h)
    assert (r.status_code, r.json()["error"]) == (422, "invalid_request")
    r = httpx.post(push, content=b"x" * (MAX_BODY + 1), headers=h)
    assert (r.status_code, r.json()["error"]) == (413, "body_too_large")
    with a.db.read() as s:
        one = WireRevision.of(s.scalars(select(Revision)).first()).to_json()  # type: ignore[arg-type]
    r = httpx.post(push, json={"revisions": [one] * (wire.MAX_BATCH + 1)}, headers=h)
    assert (r.status_code, r.json()["error"]) == (413, "batch_too_large")
    # A blob whose bytes do not match its name is refused and not kept.
    data = random_bytes(1000, seed=5)
    wrong = sha(b"something else")
    r = httpx.put(
        f"{server.url}/v1/blobs/{wrong}",
        params={"offset": 0, "size": len(data)},
        content=data,
        headers=h,
    )
    assert (r.status_code, r.json()["error"]) == (422, "hash_mismatch")
    r = httpx.get(f"{server.url}/v1/blobs/{wrong}/upload", headers=h)
    assert r.json() == {"offset": 0, "complete": False}
    r = httpx.get(f"{server.url}/v1/blobs/not-a-hash/upload", headers=h)
    assert (r.status_code, r.json()["error"]) == (422, "invalid_hash")
    r = httpx.get(f"{server.url}/v1/pull", params={"after": -1}, headers=h)
    assert r.status_code == 422
    page = httpx.get(f"{server.url}/v1/pull", headers=h).json()
    assert page["revisions"] == []  # nothing of all that was stored


def test_too_old_or_too_new_clients_are_told_to_update(team: Any, server: Server) -> None:
    a = team("a")
    token = sync_client.load_token(a)
    url = f"{server.url}/v1/pull"
    auth = {"Authorization": f"Bearer {token}"}
    for protocol, schema, reason in (
        (0, wire.SCHEMA, "client_too_old"),
        (wire.PROTOCOL, 2, "client_too_old"),
        (wire.PROTOCOL + 1, wire.SCHEMA, "server_too_old"),
        (wire.PROTOCOL, wire.SCHEMA + 1, "server_too_old"),
    ):
        r = httpx.get(
            url, headers=auth | {"Kua-Protocol": str(protocol), "Kua-Schema": str(schema)}
        )
        assert (r.status_code, r.json()["error"]) == (426, reason)
        assert "update" in r.json()["message"]
    r = httpx.get(url, headers=auth)
    assert (r.status_code, r.json()["error"]) == (426, "update_required")
    hello = httpx.get(f"{server.url}/v1/hello").json()
    assert hello["protocol"] == {"min": wire.MIN_PROTOCOL, "max": wire.PROTOCOL}
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/v1/push" in spec["paths"] and "/v1/blobs/{sha256}" in spec["paths"]


# --- the command line ------------------------------------------------------------------------


def test_cli_enrol_sync_status_and_conflicts(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = server.team(f"cli-{tmp_path.name}", "a", "b")
    dirs = {}
    for name in ("a", "b"):
        laptop(tmp_path, name).close()
        dirs[name] = str(tmp_path / name)
        assert (
            main(
                ["--data-dir", dirs[name], "sync", "--server", server.url, "--enroll", codes[name]]
            )
            == 0
        )
    token = tmp_path / "a" / "sync-token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    with Store(tmp_path / "a") as a:
        i = incident(a, "до")
    for name in ("a", "b", "a"):
        assert main(["--data-dir", dirs[name], "sync"]) == 0
    for name, text in (("a", "после A"), ("b", "после B")):
        assert main(["--data-dir", dirs[name], "incident", "edit", i, "--text", text]) == 0
    for name in ("a", "b", "a"):
        assert main(["--data-dir", dirs[name], "sync"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", dirs["a"], "sync", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["open_conflicts"] == 1 and status["pending_revisions"] == 0
    assert main(["--data-dir", dirs["a"], "conflicts", "list", "--json"]) == 0
    (conflict,) = json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "--data-dir",
                dirs["a"],
                "conflicts",
                "resolve",
                conflict["id"],
                "--take",
                "description=общий текст",
            ]
        )
        == 0
    )
    assert main(["--data-dir", dirs["a"], "conflicts", "resolve", "nope", "--take", "mine"]) == 1
    assert "no such open conflict" in capsys.readouterr().err
    assert main(["--data-dir", dirs["b"], "sync", "--server", server.url]) == 2
    assert main(["--data-dir", dirs["a"], "sync"]) == 0
    with Store(tmp_path / "b") as b:
        sync_once(b)
        assert get_incident(b, i).description == "общий текст"
        with b.db.read() as s:
            assert s.scalar(select(func.count()).select_from(Revision)) > 0
    # Unreachable server: one line, exit 1, nothing lost.
    assert (
        main(["--data-dir", dirs["a"], "bundle", "export", "--out", str(tmp_path / "x.kua")]) == 0
    )
    assert main(["--data-dir", dirs["b"], "bundle", "import", str(tmp_path / "x.kua")]) == 0
    capsys.readouterr()
    assert main(["--data-dir", dirs["a"], "bundle", "import", str(tmp_path / "nope.kua")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_a_new_laptop_tells_the_server_the_device_id_it_keeps(team: Any, server: Server) -> None:
    fresh = team("fresh", election=False)  # nothing written yet: its id is made at enrolment
    with fresh.db.read() as s:
        kept = s.get(Setting, DEVICE_KEY)
    assert kept is not None
    engine = create_engine(server.db)
    try:
        with engine.connect() as conn:
            told = conn.execute(
                select(Device.client_device_id).where(Device.name == "fresh")
            ).all()
    finally:
        engine.dispose()
    assert kept.value in {t for (t,) in told}


def test_server_admin_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["server", "team", "create", "Наблюдатели", "--db", db]) == 0
    assert main(["server", "team", "create", "Наблюдатели", "--db", db]) == 1
    capsys.readouterr()
    assert (
        main(
            [
                "server",
                "device",
                "add",
                "--team",
                "Наблюдатели",
                "--name",
                "Айгерим",
                "--db",
                db,
                "--json",
            ]
        )
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["code"]) == 19
    assert (
        main(
            ["server", "device", "revoke", "--team", "Наблюдатели", "--name", "Айгерим", "--db", db]
        )
        == 0
    )
    assert main(["server", "device", "add", "--team", "nobody", "--name", "x", "--db", db]) == 1
    assert main(["serve", "--db", "nonsense://", "--blobs", str(tmp_path)]) == 1
