"""Sync under crashes, a faulty network and hostile callers.

- The client (`main.py --data-dir D sync`, a real child process) is SIGKILLed at each step of a
  sync: before its push reaches the server, after the server committed the push but before the
  answer arrived, after the push's local commit, with a pull page cut in half, after the first
  page's commit, in the middle of a blob upload and of a blob download. The kill points are hit
  exactly: a proxy between client and server holds the request (or the answer) at that point and
  kills the client there, so nothing depends on timing.
- The server (`main.py serve`, a child process) is SIGKILLed with half a request read, after it
  answered but before the answer left, and while it handles a blob chunk; then restarted.
- Laptops sync repeatedly through a proxy that drops, delays and cuts answers on a seeded
  schedule; once the faults stop, every outbox drains and every copy converges.

After every crash: the laptop's database is sound, its pull cursor is never ahead of the data it
applied, and every revision it believes acknowledged is on the server under that number. After
the restart: nothing lost, nothing twice, every copy equal.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.elections import import_stations
from app.incidents import edit_incident
from app.server.admin import add_device, create_team
from app.store import Store, get_setting
from app.sync import blobs as sync_blobs
from app.sync import client as sync_client
from app.sync.client import SyncError, enrol, sync_once, sync_status
from storage.models import Evidence, Incident, Revision
from tests.sync_helpers import (
    attach_bytes,
    incident,
    laptop,
    random_bytes,
    server_db,
    sha,
    snapshot,
    wait_for_snapshot,
)
from tests.sync_proxy import ROOT, Action, FaultProxy, Request, ServerProcess

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL and os.waitid")

MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("faults-server")
    srv = ServerProcess(server_db(root), root / "blobs", root / "server.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


_teams = iter(range(10**6))


def new_team(server: ServerProcess, tmp_path: Path) -> str:
    name = f"faults-{next(_teams)}-{tmp_path.name}"
    create_team(server.db, name)
    return name


# --- what must hold after any crash --------------------------------------------------------------


def server_revisions(url: str, token: str) -> dict[str, int]:
    """rev_id -> seq of everything the team's server holds (each rev_id once)."""
    headers = sync_client._headers(token)
    out: dict[str, int] = {}
    after = 0
    while True:
        page = httpx.get(
            f"{url}/v1/pull", params={"after": after, "limit": 500}, headers=headers
        ).json()
        for item in page["revisions"]:
            rev_id = item["revision"]["rev_id"]
            assert rev_id not in out, f"the server holds {rev_id} twice"
            out[rev_id] = item["seq"]
        after = page["cursor"]
        if not page["more"]:
            return out


def local_state(data_dir: Path) -> tuple[dict[str, int | None], int]:
    """rev_id -> server_seq of the laptop's revisions, and its pull cursor."""
    db = sqlite3.connect(data_dir / "kua.db")
    try:
        (ok,) = db.execute("PRAGMA integrity_check").fetchone()
        assert ok == "ok", ok
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
    with Store(data_dir) as store, store.db.read() as s:
        revs = {r.rev_id: r.server_seq for r in s.scalars(select(Revision))}
        cursor = int(get_setting(s, sync_client.CURSOR_KEY, 0))
    return revs, cursor


def check_after_crash(data_dir: Path, url: str, token: str) -> tuple[dict[str, Any], int]:
    on_server = server_revisions(url, token)
    local, cursor = local_state(data_dir)
    behind = [r for r, seq in on_server.items() if seq <= cursor and r not in local]
    assert not behind, f"cursor {cursor} is ahead of the data: {len(behind)} revisions missing"
    for rev_id, seq in local.items():
        if seq is not None:  # acknowledged here: so the server has it, under that number
            assert on_server.get(rev_id) == seq, rev_id
    return local, cursor


# --- the client, killed at each step ------------------------------------------------------------


class Client:
    """`main.py --data-dir D sync` as a child process, killable from the proxy's hooks."""

    def __init__(self, data_dir: Path, proxy: FaultProxy) -> None:
        self.data_dir, self.proxy = data_dir, proxy
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed = False

    def kill(self) -> None:
        assert self.proc is not None
        self.killed = True  # first: the test thread may see the child die before we return
        os.kill(self.proc.pid, signal.SIGKILL)
        # wait until it is dead (without reaping it: communicate() does that, and may already
        # have, once the dead child's pipes closed)
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)

    def run(self, plan: Callable[[Request], Action] | None) -> tuple[int, str]:
        self.killed = False
        self.proxy.reset(plan)
        self.proc = subprocess.Popen(
            [sys.executable, "main.py", "--data-dir", str(self.data_dir), "sync"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, (out + err).decode("utf-8", "replace")


def kill_at(
    client: Client,
    method: str,
    prefix: str,
    nth: int,
    kind: str,
    *,
    suffix: str = "",
    when: str = "before",
) -> Callable[[Request], Action]:
    """A plan: the nth (1-based) matching request gets `kind`, and the client is killed at
    `when` (before: once the request is read, nothing forwarded; after: once the server has
    answered, nothing relayed; mid: half the answer relayed, then the kill)."""
    seen = [0]

    def decide(req: Request) -> Action:
        if not req.is_(method, prefix, suffix):
            return Action()
        seen[0] += 1
        if seen[0] != nth:
            return Action()
        if when == "before":
            return Action(kind, before=client.kill)
        if when == "after":
            return Action(kind, after=client.kill)
        assert when == "mid" and kind == "truncate"
        # half the answer is in the client's hands, it waits for the rest: killed there
        return Action("truncate", relayed=client.kill)

    return decide


def test_client_killed_at_each_step_of_a_sync(server: ServerProcess, tmp_path: Path) -> None:
    team = new_team(server, tmp_path)
    # B: 1000 extra stations (so a pull takes pages of 200, 400 and 800) and a photo to download.
    b = laptop(tmp_path, "b")
    rows = "".join(f"75-{n:04d},УИК {n},Алматы,Ауэзовский,ул. {n}\n" for n in range(100, 1100))
    csv = tmp_path / "many.csv"
    csv.write_text("code,name,region,district,address\n" + rows, encoding="utf-8")
    import_stations(b, csv)
    b_photo = random_bytes(2 * MB + 12345, seed=11)
    attach_bytes(b, incident(b, "фото от B"), b_photo)
    enrol(b, server.url, add_device(server.db, team, "b").code)
    sync_once(b)
    # A: five incidents and two photos of three upload chunks each, synced through the proxy.
    a_dir = tmp_path / "a"
    a = laptop(tmp_path, "a")
    photos = [random_bytes(2 * MB + 777, seed=20 + n) for n in range(2)]
    for n in range(5):
        i = incident(a, f"инцидент A{n}")
        if n < 2:
            attach_bytes(a, i, photos[n])
    with FaultProxy(server.port) as proxy:
        enrol(a, proxy.url, add_device(server.db, team, "a").code)
        token = sync_client.load_token(a)
        assert token
        with a.db.read() as s:
            mine = set(s.scalars(select(Revision.rev_id)))
        a.close()
        client = Client(a_dir, proxy)

        def crash(plan: Callable[[Request], Action]) -> tuple[dict[str, Any], int]:
            code, output = client.run(plan)
            assert client.killed, f"the kill point was not reached: {code} {output[-500:]}"
            assert code == -signal.SIGKILL
            return check_after_crash(a_dir, server.url, token)

        # 1. killed while pushing: the request never reached the server.
        local, _ = crash(kill_at(client, "POST", "/v1/push", 1, "drop"))
        assert not mine & set(server_revisions(server.url, token))
        assert all(local[r] is None for r in mine)
        # 2. the server committed the push, the client died before the answer.
        local, _ = crash(kill_at(client, "POST", "/v1/push", 1, "drop_after", when="after"))
        assert mine <= set(server_revisions(server.url, token))
        assert all(local[r] is None for r in mine)  # not acknowledged here: pushed again
        # 3. after the push's local commit (killed at the first pull request).
        local, cursor = crash(kill_at(client, "GET", "/v1/pull", 1, "drop"))
        assert all(local[r] is not None for r in mine) and cursor == 0
        # 4. a pull page cut in half: nothing of it applied, the cursor stays.
        local, cursor = crash(kill_at(client, "GET", "/v1/pull", 1, "truncate", when="mid"))
        assert cursor == 0
        # 5. after the first page's commit (killed asking for the third: the second is fetched
        # while the first is applied, the third only once the first is committed).
        local, cursor = crash(kill_at(client, "GET", "/v1/pull", 3, "drop"))
        assert cursor > 0
        # 6. in the middle of a blob upload: the server stored two chunks of the first photo.
        crash(kill_at(client, "PUT", "/v1/blobs/", 2, "drop_after", when="after"))
        first_put = next(e for e in proxy.log if e.request.method == "PUT")
        uploading = first_put.request.path.rsplit("/", 1)[1]
        state = httpx.get(
            f"{server.url}/v1/blobs/{uploading}/upload", headers=sync_client._headers(token)
        ).json()
        assert state == {"offset": 2 * sync_blobs.UPLOAD_CHUNK, "complete": False}
        # 7. in the middle of a blob download (the second chunk of B's photo cut in half);
        # this run first resumes the upload where the server has it.
        crash(kill_at(client, "GET", f"/v1/blobs/{sha(b_photo)}", 2, "truncate", when="mid"))
        puts = [e.request for e in proxy.log if e.request.method == "PUT"]
        assert puts[0].path.endswith(uploading)
        assert puts[0].query.startswith(f"offset={2 * sync_blobs.UPLOAD_CHUNK}&")
        part = a_dir / "incoming" / f"{sha(b_photo)}.part"
        assert part.stat().st_size == sync_blobs.DOWNLOAD_CHUNK  # the first chunk is kept
        # 8. the sync that finishes: it continues the download at its offset.
        code, output = client.run(None)
        assert code == 0, output
        gets = [e.request for e in proxy.log if e.request.is_("GET", "/v1/blobs/" + sha(b_photo))]
        assert gets[0].query.startswith(f"offset={sync_blobs.DOWNLOAD_CHUNK}&")
        assert not any(e.request.method == "PUT" for e in proxy.log)  # nothing sent twice

    local, cursor = check_after_crash(a_dir, server.url, token)
    on_server = server_revisions(server.url, token)
    assert set(local) == set(on_server) and all(local[r] == s for r, s in on_server.items())
    assert cursor == max(on_server.values())
    sync_once(b)
    with Store(a_dir) as a2:
        assert snapshot(a2) == snapshot(b)
        assert a2.blobs.read(sha(b_photo)) == b_photo
        st = sync_status(a2)
        assert (st.pending_revisions, st.pending_uploads, st.evidence_pending) == (0, 0, 0)
        with a2.db.read() as s:
            assert s.scalar(select(func.count()).select_from(Incident)) == 6
            pairs = s.execute(select(Evidence.incident_id, Evidence.sha256)).all()
            assert len(pairs) == len(set(pairs)) == 3
    for p in photos:
        assert b.blobs.read(sha(p)) == p  # the resumed upload arrived whole
    b.close()
    assert token not in server.log_path.read_text("utf-8", "replace")  # never logged


def test_client_killed_while_taking_the_team_snapshot(
    server: ServerProcess, tmp_path: Path
) -> None:
    """An empty laptop starts from the team's snapshot: killed with half of it downloaded, then
    after taking it (before the pages after it), and it finishes as a copy like the others."""
    team = new_team(server, tmp_path)
    b = laptop(tmp_path, "b")
    rows = "".join(f"75-{n:04d},УИК {n},Алматы,Ауэзовский,ул. {n}\n" for n in range(100, 1100))
    csv = tmp_path / "many.csv"
    csv.write_text("code,name,region,district,address\n" + rows, encoding="utf-8")
    import_stations(b, csv)  # over a thousand revisions: the server makes a snapshot
    enrol(b, server.url, add_device(server.db, team, "b").code)
    sync_once(b)
    meta = wait_for_snapshot(server.url, b, step=1000)
    incident(b, "после снимка")  # one change the snapshot does not hold
    sync_once(b)
    c_dir = tmp_path / "c"
    c = laptop(tmp_path, "c", election=False)
    with FaultProxy(server.port) as proxy:
        enrol(c, proxy.url, add_device(server.db, team, "c").code)
        token = sync_client.load_token(c)
        assert token
        c.close()
        client = Client(c_dir, proxy)

        def crash(plan: Callable[[Request], Action]) -> tuple[dict[str, Any], int]:
            code, output = client.run(plan)
            assert client.killed, f"the kill point was not reached: {code} {output[-500:]}"
            return check_after_crash(c_dir, server.url, token)

        # 1. half of the snapshot arrived: nothing taken.
        local, cursor = crash(kill_at(client, "GET", "/v1/snapshot/", 1, "truncate", when="mid"))
        assert not local and cursor == 0
        # 2. taken (one transaction with its cursor), killed asking for the pages after it.
        local, cursor = crash(kill_at(client, "GET", "/v1/pull", 1, "drop"))
        assert cursor == meta["seq"] and len(local) == meta["seq"]
        assert not list((c_dir / "incoming").glob("snapshot-*"))
        # 3. the sync that finishes pulls only what came after the snapshot.
        code, output = client.run(None)
        assert code == 0, output
        assert not any(e.request.is_("GET", "/v1/snapshot") for e in proxy.log)
    check_after_crash(c_dir, server.url, token)
    with Store(c_dir) as c2:
        assert snapshot(c2) == snapshot(b)
    b.close()


# --- the server, killed mid-request ------------------------------------------------------------


def test_server_killed_mid_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_blobs, "UPLOAD_CHUNK", 256 * 1024)
    srv = ServerProcess(
        f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "blobs", tmp_path / "server.log"
    )
    srv.start()
    try:
        team = new_team(srv, tmp_path)
        a = laptop(tmp_path, "a")
        for n in range(3):
            incident(a, f"инцидент {n}")
        photo = random_bytes(1 * MB, seed=31)
        attach_bytes(a, incident(a, "фото"), photo)
        with a.db.read() as s:
            mine = set(s.scalars(select(Revision.rev_id)))
        with FaultProxy(srv.port) as proxy, httpx.Client(base_url=proxy.url) as http:
            enrol(a, proxy.url, add_device(srv.db, team, "a").code)
            token = sync_client.load_token(a)
            assert token

            def crash(plan: Callable[[Request], Action]) -> None:
                proxy.reset(plan)
                with pytest.raises(SyncError) as err:
                    sync_once(a, http=http)
                assert err.value.reason == "unreachable"
                srv.start()  # on the same database and blob folder
                proxy.upstream_port = srv.port
                check_after_crash(a.data_dir, srv.url, token)

            def nth(method: str, prefix: str, n: int, action: Action) -> Any:
                seen = [0]

                def decide(req: Request) -> Action:
                    if req.is_(method, prefix):
                        seen[0] += 1
                        if seen[0] == n:
                            return action
                    return Action()

                return decide

            # Half a push arrived, then the server died: nothing of it is stored.
            crash(nth("POST", "/v1/push", 1, Action("cut_upstream", upstream_cut=srv.kill)))
            assert not mine & set(server_revisions(srv.url, token))
            # The server committed and answered, then died before the answer left.
            crash(nth("POST", "/v1/push", 1, Action("drop_after", after=srv.kill)))
            assert mine <= set(server_revisions(srv.url, token))
            assert sync_status(a).pending_revisions == len(mine)  # not acknowledged yet
            # Killed while handling a chunk (whether it kept the chunk or not is a race:
            # both must end well); and half a chunk, then killed.
            crash(nth("PUT", "/v1/blobs/", 2, Action("drop", before=srv.kill)))
            crash(nth("PUT", "/v1/blobs/", 1, Action("cut_upstream", upstream_cut=srv.kill)))
            assert srv.starts == 5
            proxy.reset(None)
            report = sync_once(a, http=http)
            assert report.uploaded == 1 and sync_status(a).pending_revisions == 0
            local, _ = check_after_crash(a.data_dir, srv.url, token)
            assert set(local) == set(server_revisions(srv.url, token))
        b = laptop(tmp_path, "b", election=False)
        enrol(b, srv.url, add_device(srv.db, team, "b").code)
        sync_once(b)
        assert snapshot(a) == snapshot(b) and b.blobs.read(sha(photo)) == photo
        a.close()
        b.close()
    finally:
        srv.stop()


# --- a faulty network ----------------------------------------------------------------------------

FAULTS = ("drop_early", "drop", "drop_after", "truncate", "short", "delay")


def seeded_faults(seed: int, rate: float) -> tuple[Callable[[Request], Action], dict[str, int]]:
    rng = random.Random(seed)
    counts: dict[str, int] = {}

    def decide(req: Request) -> Action:
        kind = rng.choice(FAULTS) if rng.random() < rate else "pass"
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "delay":
            return Action("pass", delay=rng.uniform(0.001, 0.02))
        return Action(kind)

    return decide, counts


@pytest.mark.parametrize("seed", [7, 8])
def test_laptops_converge_through_a_faulty_network(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(sync_blobs, "UPLOAD_CHUNK", 48 * 1024)
    monkeypatch.setattr(sync_blobs, "DOWNLOAD_CHUNK", 40 * 1024)
    monkeypatch.setattr(sync_client, "PAGE", 7)
    monkeypatch.setattr(sync_client, "FIRST_PULL_PAGE", 7)
    monkeypatch.setattr(sync_client, "PULL_PAGE", 7)
    team = new_team(server, tmp_path)
    rng = random.Random(seed)
    decide, counts = seeded_faults(seed=seed, rate=0.35)
    names = ("a", "b", "c")
    stores = [laptop(tmp_path, n) for n in names]
    ids: list[str] = []
    photos: list[bytes] = []
    with FaultProxy(server.port, decide) as proxy, httpx.Client(base_url=proxy.url) as http:
        for name, s in zip(names, stores, strict=True):
            proxy.decide = lambda r: Action()  # enrolment is not what is tested here
            enrol(s, proxy.url, add_device(server.db, team, name).code, http=http)
        proxy.decide = decide
        failures = 0
        for step in range(20):
            s = stores[rng.randrange(3)]
            with s.db.read() as ses:
                here = sorted(ses.scalars(select(Incident.id)))
            choice = rng.random()
            if choice < 0.45 or not here:
                ids.append(incident(s, f"шаг {step}"))
            elif choice < 0.75:
                edit_incident(s, rng.choice(here), description=f"правка {step}")
            else:
                data = random_bytes(rng.randrange(50_000, 200_000), seed=1000 + step)
                attach_bytes(s, rng.choice(here), data)
                photos.append(data)
            for t in stores:
                try:
                    sync_once(t, http=http)
                except SyncError as exc:
                    assert exc.reason in (
                        "unreachable",
                        "bad_answer",
                        "http_error",
                        "hash_mismatch",
                    )
                    failures += 1
        assert failures >= 5, counts
        assert all(counts.get(k, 0) for k in FAULTS), counts
        proxy.decide = lambda r: Action()  # the network is good again
        for _ in range(2):
            for t in stores:
                sync_once(t, http=http)
    first = snapshot(stores[0])
    for t in stores:
        st = sync_status(t)
        assert (st.pending_revisions, st.pending_uploads, st.evidence_pending) == (0, 0, 0)
        assert snapshot(t) == first
        for p in photos:
            assert t.blobs.read(sha(p)) == p
        assert not list((t.data_dir / "incoming").glob("*.part"))
        t.close()
    token_holder = tmp_path / "a" / "sync-token"
    on_server = server_revisions(server.url, token_holder.read_text().strip())
    assert len(first["incident"]) == len(ids)
    assert len(on_server) == len(set(on_server))
