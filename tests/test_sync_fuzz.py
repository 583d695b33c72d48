"""The team server's API against hostile or broken callers, in-process (its ASGI app).

- schemathesis generates requests from the server's own OpenAPI description (valid and invalid
  bodies, parameters and headers) and sends them with a valid device token: no answer may be a
  5xx, and every non-2xx answer must be the documented JSON {"error", "message"}.
- Security checks that tests/test_sync.py does not make: expired and revoked enrolment codes,
  secrets at rest, a stored hash used as a token, blobs and revision ids across teams, paths that
  try to leave the blob folder, limits, and a server that lies to the laptop.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.server.admin import add_device, create_team, revoke_device
from app.server.api import MAX_BLOB, MAX_HASHES, create_app, hash_secret
from app.server.db import open_server_db
from app.server.models import Device
from app.store import get_setting
from app.sync import blobs as sync_blobs
from app.sync import client as sync_client
from app.sync import wire
from app.sync.client import ASGITransport, SyncError, enrol, sync_once, sync_status
from app.sync.wire import WireRevision
from storage.models import Revision
from storage.timeutil import utcnow
from tests.sync_helpers import attach_bytes, incident, laptop, random_bytes, sha

URL = "http://server"


@dataclass
class World:
    root: Path
    db: str
    engine: Engine
    app: Any
    http: httpx.Client

    def team(self, name: str, *devices: str) -> dict[str, str]:
        """A new team and a token for each device label."""
        create_team(self.db, name)
        return {d: self.enrol(add_device(self.db, name, d).code) for d in devices}

    def enrol(self, code: str) -> str:
        r = self.http.post("/v1/enrol", json={"code": code}, headers=sync_client._headers(None))
        assert r.status_code == 200, r.text
        return str(r.json()["token"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz")
    db = f"sqlite:///{root / 'server.db'}"
    engine = open_server_db(db)
    app = create_app(engine, root / "blobs", max_body=2 * 1024 * 1024)
    with httpx.Client(transport=ASGITransport(app), base_url=URL) as http:
        yield World(root, db, engine, app, http)
    engine.dispose()


def h(token: str | None) -> dict[str, str]:
    return sync_client._headers(token)


# --- schemathesis: no 5xx, whatever the request --------------------------------------------------


@pytest.fixture(scope="module")
def api_schema(world: World) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", world.app)


@pytest.fixture(scope="module")
def fuzz_token(world: World) -> str:
    tokens = world.team("fuzz-team", "fuzzer")
    # something to pull and a blob to fetch, so the generated calls reach real data
    world.http.post(
        "/v1/push",
        json={"revisions": [_revision("0" * 8 + "-0000-4000-8000-" + "0" * 12)]},
        headers=h(tokens["fuzzer"]),
    )
    return tokens["fuzzer"]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_api_fuzz_never_answers_5xx(api_schema: Any, fuzz_token: str, mode: str) -> None:
    """Every operation of /openapi.json, with generated valid (positive) or schema-violating
    (negative) requests. (Driven through hypothesis directly: schemathesis' pytest fixture
    loader does not work under pytest 9.)"""
    generation = schemathesis.GenerationMode(mode)
    operations = [op.ok() for op in api_schema.get_all_operations()]
    assert len(operations) >= 9
    seen: dict[int, int] = {}
    ran = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=generation))
        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            # Most calls carry valid credentials and versions so they reach the handlers; the
            # generated header values are kept for some, so the refusals are exercised too.
            headers = dict(case.headers or {})
            if len(str(headers)) % 4:
                headers |= h(fuzz_token)
            case.headers = headers
            response = case.call()
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            where = (case.method, case.formatted_path, response.text[:300])
            assert response.status_code < 500, where
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body["error"], str), where
                assert isinstance(body["message"], str), where

        try:
            call()
            ran += 1
        except Unsatisfiable:  # no way to break a call whose inputs are free strings
            assert mode == "negative", operation
    assert ran >= (9 if mode == "positive" else 4), ran
    assert any(200 <= code < 300 for code in seen), seen
    assert any(400 <= code < 500 for code in seen), seen


# --- enrolment codes and tokens --------------------------------------------------------------


def test_expired_or_revoked_enrolment_codes_are_refused(world: World) -> None:
    create_team(world.db, "codes")
    late = add_device(world.db, "codes", "late").code
    with Session(world.engine) as s, s.begin():
        s.execute(
            update(Device)
            .where(Device.name == "late")
            .values(enrol_expires_at=utcnow() - timedelta(seconds=1))
        )
    gone = add_device(world.db, "codes", "gone").code
    revoke_device(world.db, "codes", "gone")
    for code in (late, gone, late.lower(), "AAAA-BBBB-CCCC-DDDD"):
        r = world.http.post("/v1/enrol", json={"code": code}, headers=h(None))
        assert (r.status_code, r.json()["error"]) == (401, "invalid_enrolment_code")
    # The code is read without dashes or case: a fresh one typed sloppily still works, once.
    fresh = add_device(world.db, "codes", "fresh").code
    sloppy = fresh.replace("-", " ").lower()
    assert world.http.post("/v1/enrol", json={"code": sloppy}, headers=h(None)).status_code == 200
    r = world.http.post("/v1/enrol", json={"code": fresh}, headers=h(None))
    assert r.status_code == 401


def test_secrets_are_kept_only_as_hashes(world: World, tmp_path: Path) -> None:
    create_team(world.db, "secrets")
    code = add_device(world.db, "secrets", "lap").code
    store = laptop(tmp_path, "lap", election=False)
    enrol(store, URL, code, http=world.http)
    token = sync_client.load_token(store)
    assert token and len(token) == 64
    server_bytes = b"".join(
        p.read_bytes() for p in world.root.glob("server.db*")
    )  # the database and its WAL
    for secret in (token, code, code.replace("-", "")):
        assert secret.encode() not in server_bytes
    laptop_bytes = b"".join(p.read_bytes() for p in store.data_dir.glob("kua.db*"))
    assert token.encode() not in laptop_bytes  # only in sync-token, readable by its owner
    with Session(world.engine) as s:
        digest = s.scalars(select(Device.token_hash).where(Device.name == "lap")).one()
    assert digest == hash_secret(token)
    # What the server keeps is no credential: the hash itself is refused as a token.
    for bad in (digest, token.upper(), token[:-1], f"{token} {token}"):
        r = world.http.get("/v1/me", headers=h(bad))
        assert (r.status_code, r.json()["error"]) == (401, "invalid_token"), bad
    r = world.http.get("/v1/me", headers=h(None) | {"Authorization": f"Basic {token}"})
    assert (r.status_code, r.json()["error"]) == (401, "token_missing")
    assert world.http.get("/v1/me", headers=h(token)).json()["team"] == "secrets"
    store.close()


# --- teams are walled off from each other ------------------------------------------------------


def _revision(rev_id: str, text: str = "x") -> dict[str, Any]:
    record = "0" * 8 + "-0000-4000-8000-" + "1" * 12
    return {
        "rev_id": rev_id,
        "entity": "incident",
        "record_id": record,
        "op": "update",
        "parents": [],
        "device_id": "0" * 8 + "-0000-4000-8000-" + "2" * 12,
        "hlc": "1710000000000-00000-" + "0" * 8 + "-0000-4000-8000-" + "2" * 12,
        "fields": {"description": text},
        "created_at": "2024-03-17T09:30:00.000000Z",
    }


def test_blobs_and_revision_ids_do_not_cross_teams(world: World) -> None:
    a = world.team("wall-a", "a")["a"]
    b = world.team("wall-b", "b")["b"]
    data = random_bytes(300_000, seed=40)
    digest = sha(data)
    # A uploads the first half; B learns nothing of it and cannot append to it.
    r = world.http.put(
        f"/v1/blobs/{digest}",
        params={"offset": 0, "size": len(data)},
        content=data[:150_000],
        headers=h(a),
    )
    assert r.json() == {"offset": 150_000, "complete": False}
    assert world.http.get(f"/v1/blobs/{digest}/upload", headers=h(b)).json() == {
        "offset": 0,
        "complete": False,
    }
    r = world.http.put(
        f"/v1/blobs/{digest}",
        params={"offset": 150_000, "size": len(data)},
        content=data[150_000:],
        headers=h(b),
    )
    assert (r.status_code, r.json()["error"]) == (409, "wrong_offset")
    assert r.json()["offset"] == 0  # B's own (empty) upload, not A's
    r = world.http.put(
        f"/v1/blobs/{digest}",
        params={"offset": 150_000, "size": len(data)},
        content=data[150_000:],
        headers=h(a),
    )
    assert r.json() == {"offset": len(data), "complete": True}
    # A holds it whole; for B it does not exist, in any call.
    assert world.http.get(f"/v1/blobs/{digest}/upload", headers=h(b)).json()["offset"] == 0
    assert world.http.get(f"/v1/blobs/{digest}", headers=h(b)).status_code == 404
    r = world.http.post("/v1/blobs/missing", json={"sha256": [digest]}, headers=h(b))
    assert r.json()["missing"] == [digest]
    # The same revision id in two teams: two separate revisions, neither overwrites the other.
    rid = "0" * 8 + "-0000-4000-8000-" + "3" * 12
    ra = world.http.post("/v1/push", json={"revisions": [_revision(rid, "A")]}, headers=h(a))
    rb = world.http.post("/v1/push", json={"revisions": [_revision(rid, "B")]}, headers=h(b))
    assert ra.json()["results"][0]["status"] == rb.json()["results"][0]["status"] == "stored"
    # Within a team, a different body under a taken id is refused and changes nothing.
    r = world.http.post("/v1/push", json={"revisions": [_revision(rid, "A2")]}, headers=h(a))
    assert r.json()["results"][0] == {"rev_id": rid, "status": "rejected", "seq": None}
    for token, text in ((a, "A"), (b, "B")):
        page = world.http.get("/v1/pull", headers=h(token)).json()["revisions"]
        assert [p["revision"]["fields"]["description"] for p in page] == [text]


def test_paths_cannot_leave_the_blob_folder(world: World) -> None:
    token = world.team("paths", "p")["p"]
    for path in (
        "/v1/blobs/..%2F..%2Fserver.db",
        "/v1/blobs/..%2Fserver.db/upload",
        "/v1/blobs/%2e%2e%2f%2e%2e%2fserver.db",
        "/v1/blobs/" + "A" * 64,
        "/v1/blobs/" + "a" * 63 + "%00",
        "/v1/blobs/" + "a" * 64 + "%2F..",
    ):
        r = world.http.get(path, headers=h(token))
        assert r.status_code in (404, 422), (path, r.status_code)
        assert b"SQLite" not in r.content
        r = world.http.put(path, params={"offset": 0, "size": 1}, content=b"x", headers=h(token))
        assert r.status_code in (404, 405, 422), (path, r.status_code)
    assert not list((world.root / "blobs").rglob("*server.db*"))


def test_limits_are_enforced_before_work_is_done(world: World) -> None:
    token = world.team("limits", "l")["l"]
    hashes = [f"{n:064x}" for n in range(MAX_HASHES + 1)]
    r = world.http.post("/v1/blobs/missing", json={"sha256": hashes}, headers=h(token))
    assert (r.status_code, r.json()["error"]) == (422, "invalid_request")
    r = world.http.get("/v1/pull", params={"limit": wire.MAX_PULL + 1}, headers=h(token))
    assert r.status_code == 422
    digest = sha(b"y")
    r = world.http.put(
        f"/v1/blobs/{digest}",
        params={"offset": 0, "size": MAX_BLOB + 1},
        content=b"y",
        headers=h(token),
    )
    assert r.status_code == 422
    # More bytes than declared: refused, and the partial upload is dropped.
    r = world.http.put(
        f"/v1/blobs/{digest}", params={"offset": 0, "size": 1}, content=b"yy", headers=h(token)
    )
    assert (r.status_code, r.json()["error"]) == (422, "too_many_bytes")
    assert world.http.get(f"/v1/blobs/{digest}/upload", headers=h(token)).json()["offset"] == 0


# --- a lying server ------------------------------------------------------------------------------


class Lying(httpx.BaseTransport):
    """Relays to the real app but corrupts the answers `corrupt(request, response)` picks."""

    def __init__(self, inner: httpx.BaseTransport, corrupt: Any) -> None:
        self.inner, self.corrupt = inner, corrupt

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        return self.corrupt(request, response) or response


def test_the_laptop_checks_what_the_server_sends(world: World, tmp_path: Path) -> None:
    create_team(world.db, "liars")
    a = laptop(tmp_path, "a")
    b = laptop(tmp_path, "b", election=False)
    for store, name in ((a, "a"), (b, "b")):
        enrol(store, URL, add_device(world.db, "liars", name).code, http=world.http)
    data = random_bytes(5000, seed=41)
    digest = attach_bytes(a, incident(a, "фото"), data)
    sync_once(a, http=world.http)

    def wrong_bytes(req: httpx.Request, resp: httpx.Response) -> httpx.Response | None:
        if req.url.path == f"/v1/blobs/{digest}":
            return httpx.Response(200, headers=resp.headers, content=b"\0" * len(resp.content))
        return None

    inner = world.http._transport
    with httpx.Client(transport=Lying(inner, wrong_bytes), base_url=URL) as liar:
        with pytest.raises(SyncError) as err:
            sync_once(b, http=liar)
        assert err.value.reason == "hash_mismatch"
    assert not b.blobs.has(digest) and sync_status(b).evidence_pending == 1
    assert not list((b.data_dir / "incoming").glob("*"))
    # A damaged page (a revision with a bad id) is refused whole: nothing applied, cursor kept.
    c = laptop(tmp_path, "c", election=False)
    enrol(c, URL, add_device(world.db, "liars", "c").code, http=world.http)

    def bad_page(req: httpx.Request, resp: httpx.Response) -> httpx.Response | None:
        if req.url.path == "/v1/pull" and resp.status_code == 200:
            page = resp.json()
            if page["revisions"]:
                page["revisions"][-1]["revision"]["rev_id"] = "../../etc/passwd"
                return httpx.Response(200, json=page)
        return None

    with httpx.Client(transport=Lying(inner, bad_page), base_url=URL) as liar:
        with pytest.raises(SyncError) as err:
            sync_once(c, http=liar)
        assert err.value.reason == "bad_answer"
    with c.db.read() as s:
        assert get_setting(s, sync_client.CURSOR_KEY, 0) == 0
        assert not [r for r in s.scalars(select(Revision)) if r.device_id != _me(s)]
    # With an honest server both get everything.
    sync_once(b, http=world.http)
    sync_once(c, http=world.http)
    assert b.blobs.read(digest) == data and sync_blobs.evidence_state(c, digest) == "present"
    for s in (a, b, c):
        s.close()


def _me(session: Session) -> str:
    from storage.revisions import device_id

    return device_id(session)


def test_wire_revision_refuses_what_does_not_fit() -> None:
    good = _revision("0" * 8 + "-0000-4000-8000-" + "4" * 12)
    WireRevision.from_json(good)
    for field, value in (
        ("parents", ["not-a-uuid"]),
        ("op", "drop table"),
        ("hlc", "1-2-3"),
        ("created_at", "yesterday"),
        ("fields", "a string"),
        ("record_id", "0" * 36),
    ):
        with pytest.raises(ValueError):
            WireRevision.from_json(good | {field: value})


def test_a_pull_page_stops_at_its_byte_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large revisions make short pages (the server never holds a page of many megabytes);
    one larger than the whole budget still travels, alone; nothing is skipped."""
    from app.server import api

    token = world.team("big", "b")["b"]
    sizes = (100, 100, 100, 5000, 100)  # a body is its text and about 330 bytes around it
    revs = [_revision(str(uuid.uuid4()), "x" * size) for size in sizes]
    r = world.http.post("/v1/push", json={"revisions": revs}, headers=h(token))
    assert r.status_code == 200, r.text
    monkeypatch.setattr(api, "PULL_BYTES", 1500)
    pages, after = [], 0
    while True:
        page = world.http.get("/v1/pull", params={"after": after, "limit": 100}, headers=h(token))
        body = page.json()
        pages.append([item["revision"]["rev_id"] for item in body["revisions"]])
        after = body["cursor"]
        if not body["more"]:
            break
    assert [len(p) for p in pages] == [3, 1, 1]
    assert [rev for p in pages for rev in p] == [rev["rev_id"] for rev in revs]
    assert body["last"] == after


def test_an_outbox_larger_than_the_body_limit_is_sent_in_smaller_batches(
    world: World, tmp_path: Path
) -> None:
    """Long texts (pasted statements) make big revisions: the laptop keeps each push within
    the server's limit (2 MiB here) instead of being refused forever."""
    from app.sync.client import enrol, sync_once
    from tests.sync_helpers import incident, laptop

    create_team(world.db, "long")
    store = laptop(tmp_path, "l")
    try:
        enrol(store, URL, add_device(world.db, "long", "l").code, http=world.http)
        for n in range(30):  # 30 x 100 KB: one batch of them would be 3 MB
            incident(store, f"{n}: " + "заявление " * 10_000)
        report = sync_once(store, http=world.http)
        assert report.pushed >= 30 and sync_client.sync_status(store).pending_revisions == 0
    finally:
        store.close()
