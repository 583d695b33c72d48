"""Syncing this laptop with the team server: push the outbox, pull what others wrote, move
evidence files both ways. Each step is safe to interrupt: what was done stays done, the rest is
done next time (pushes are idempotent, the pull cursor moves with the applied page, uploads
and downloads resume at their offset)."""

from __future__ import annotations

import json
import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select, update

from app.errors import KuaError
from app.store import Store, get_setting, set_setting
from app.sync import CURSOR_KEY as CURSOR_KEY  # "as": re-exported, the UI and tests use these
from app.sync import SERVER_KEY, blobs, snapshot, wire
from app.sync import TEAM_KEY as TEAM_KEY
from app.sync import Progress as Progress
from app.sync import SyncError as SyncError
from app.sync.merge import apply_revisions, collector_paused
from app.sync.wire import WireRevision
from storage.files import write_atomic
from storage.models import Revision, SyncConflict
from storage.revisions import device_id
from storage.timeutil import to_utc_text, utcnow

TOKEN_FILE = "sync-token"
BUNDLE_KEY_FILE = "bundle-key"  # the team's secret that signs USB bundles (from the server)
SERVER_CERT_FILE = "sync-server.pem"  # the team server's (or its CA's) certificate, if given
DEVICE_NAME_KEY = "sync_device_name"
LAST_SYNC_KEY = "sync_last"
PAGE = 200  # revisions per push batch
FIRST_PULL_PAGE = 200  # revisions in the first pull page: a small pull stays one small request
PULL_PAGE = 8000  # ...and at most, as pages double while they come fast (a first sync)
FAST_PAGE = 2.0  # seconds: a page that took longer is not followed by a bigger one
TIMEOUT = httpx.Timeout(60.0, connect=15.0)


@dataclass
class SyncReport:
    server: str
    pushed: int = 0
    pulled: int = 0  # revisions new to this laptop
    snapshot: int = 0  # ...of which came in the team's snapshot (an empty laptop's first sync)
    pages: int = 0
    uploaded: int = 0
    downloaded: int = 0
    evidence_pending: int = 0  # files whose bytes have not reached this laptop yet
    conflicts: int = 0  # open conflicts after this sync
    # The status computed at the end of the sync, for a caller that shows it (no second
    # sync_status); not part of the report's JSON, which stays as it was.
    status: SyncStatus | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "status"}

    def summary(self) -> str:
        received = f"received {self.pulled}"
        if self.snapshot:
            received += f" ({self.snapshot} of them in the team's snapshot)"
        text = f"sent {self.pushed} changes, {received}; "
        text += f"{self.uploaded} files up, {self.downloaded} down"
        if self.evidence_pending:
            text += f"; {self.evidence_pending} evidence files pending"
        if self.conflicts:
            text += f"; {self.conflicts} conflicts to review (conflicts list)"
        return text


@dataclass
class SyncStatus:
    server: str | None
    team: str | None
    enrolled: bool
    last_sync: str | None
    pending_revisions: int
    pending_uploads: int
    evidence_pending: int
    open_conflicts: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- secrets (the token, the team's bundle key): readable by this laptop's user only --------


def token_path(store: Store) -> Path:
    return store.data_dir / TOKEN_FILE


def bundle_key_path(store: Store) -> Path:
    return store.data_dir / BUNDLE_KEY_FILE


def _save_secret(path: Path, text: str) -> None:
    # Atomic: a crash leaves the old secret or the new one, never a cut-short token.
    write_atomic(path, (text + "\n").encode("ascii"), 0o600)


def _load_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None


def save_token(store: Store, token: str) -> None:
    _save_secret(token_path(store), token)


def load_token(store: Store) -> str | None:
    return _load_secret(token_path(store))


def load_bundle_key(store: Store) -> bytes | None:
    """The team's bundle key, if this laptop has it (from enrolment, or fetched at a sync)."""
    path = bundle_key_path(store)
    try:
        text = _load_secret(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise KuaError(f"{path}: cannot read the team's bundle key ({exc})") from None
    if text is None:
        return None
    if not _BUNDLE_KEY_RE.fullmatch(text):
        raise KuaError(f"{path}: damaged (not 64 hex digits); delete it and sync to fetch it again")
    return bytes.fromhex(text)


_BUNDLE_KEY_RE = re.compile("[0-9a-f]{64}")


def _bundle_key_of(answer: Any) -> str | None:
    """The bundle key in the server's answer; None from a server older than bundle keys."""
    key = answer.get("bundle_key") if isinstance(answer, dict) else None
    if key is not None and not (isinstance(key, str) and _BUNDLE_KEY_RE.fullmatch(key)):
        raise SyncError("the team server sent a malformed bundle key", "bad_answer")
    return key


# --- the server's certificate: a coalition's own server may have a self-signed one ---------


def server_cert_path(store: Store) -> Path:
    return store.data_dir / SERVER_CERT_FILE


def read_server_cert(path: Path) -> str:
    """The PEM text of a certificate file, or one line naming the file saying why not."""
    try:
        text = path.read_bytes().decode("ascii")
    except OSError as exc:
        raise KuaError(f"{path}: cannot read the certificate ({exc.strerror or exc})") from exc
    except UnicodeDecodeError:
        text = ""  # DER or anything else binary
    try:
        tls_context(text)
    except (ssl.SSLError, ValueError):
        raise KuaError(
            f"{path}: not a certificate in PEM form (a text file with "
            "-----BEGIN CERTIFICATE-----); ask the team server's admin for it"
        ) from None
    return text


def tls_context(pem: str) -> ssl.SSLContext:
    """Verification with this PEM as the only trust anchor: the laptop trusts its team's server
    because it was given that server's certificate, not because some public CA signed it."""
    # Not create_default_context: given an empty PEM, it would trust the system's authorities.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # checks the certificate and host name
    context.load_verify_locations(cadata=pem)
    # The server's own certificate may be the anchor, not only the CA that issued it.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a failed request (httpx keeps it as the cause), if there is one."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, ssl.SSLError):
        seen = seen.__cause__ or seen.__context__
    return seen


# --- HTTP ----------------------------------------------------------------------------------


def _headers(token: str | None) -> dict[str, str]:
    headers = {wire.PROTOCOL_HEADER: str(wire.PROTOCOL), wire.SCHEMA_HEADER: str(wire.SCHEMA)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class Connection:
    """One sync's HTTP session with the server; every failure becomes a SyncError in words.
    With server_cert (a PEM file), the server must prove itself with that certificate or one
    it issued; without, the system's trusted authorities decide."""

    def __init__(
        self,
        server: str,
        token: str | None,
        http: httpx.Client | None = None,
        server_cert: Path | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.server_cert = server_cert
        self.pem = read_server_cert(server_cert) if server_cert else None
        verify: ssl.SSLContext | bool = tls_context(self.pem) if self.pem else True
        self.http = http or httpx.Client(base_url=self.server, timeout=TIMEOUT, verify=verify)
        self.owned = http is None
        self.headers = _headers(token)

    def close(self) -> None:
        if self.owned:
            self.http.close()

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            headers = self.headers | kw.pop("headers", {})
            resp = self.http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            tls = _tls_failure(exc)
            if tls is not None:
                raise self._tls_error(tls) from exc
            raise SyncError(
                f"cannot reach the team server at {self.server} ({type(exc).__name__}: {exc}); "
                "nothing is lost, sync again when the network is back",
                "unreachable",
            ) from exc
        if resp.status_code >= 400:
            try:
                body = resp.json()
                reason, message = str(body["error"]), str(body["message"])
            except (ValueError, KeyError, TypeError):
                reason, message = "http_error", resp.text[:200] or resp.reason_phrase
            raise SyncError(f"the team server refused: {message}", reason, resp.status_code)
        return resp

    def _tls_error(self, exc: ssl.SSLError) -> SyncError:
        if not isinstance(exc, ssl.SSLCertVerificationError):
            return SyncError(
                f"no secure connection with {self.server} ({exc.reason or exc}): is it an "
                "https:// address of the team server?",
                "tls",
            )
        if self.server_cert is None:
            hint = (
                "the system's authorities do not vouch for it; if your team runs its own "
                "server, add --server-cert FILE.pem from its admin"
            )
        else:
            hint = (
                f"it was checked against {self.server_cert} only; ask the admin for the "
                "server's current certificate (sync --server-cert FILE.pem)"
            )
        return SyncError(
            f"the team server's certificate is not the one this laptop trusts "
            f"({exc.verify_message}): {hint}; nothing was sent",
            "tls",
        )

    def json(self, method: str, path: str, **kw: Any) -> Any:
        try:
            return self.call(method, path, **kw).json()
        except ValueError as exc:
            raise SyncError(
                "the team server answered something that is not JSON", "bad_answer"
            ) from exc


def enrol(
    store: Store,
    server: str,
    code: str,
    http: httpx.Client | None = None,
    server_cert: Path | None = None,
) -> str:
    """Enrol this laptop with a one-time code from the server's admin; the token it gets is
    stored in the data folder, readable by this user only. With server_cert (PEM), the server
    must have that certificate (or one it issued), and only it is trusted from then on.
    Returns the team's name."""
    if server_cert is not None and not server.startswith("https://"):
        raise KuaError(f"{server}: a server certificate is for an https:// address")
    conn = Connection(server, None, http, server_cert)
    try:
        with store.db.write() as s:  # a new laptop's id is made here: kept, not thrown away
            me = device_id(s)
        answer = conn.json("POST", "/v1/enrol", json={"code": code, "device_id": me})
    finally:
        conn.close()
    bundle_key = _bundle_key_of(answer)
    if conn.pem is not None:
        write_atomic(server_cert_path(store), conn.pem.encode("ascii"), 0o644)
    else:  # a new server without one: an old server's certificate must not stand in its way
        server_cert_path(store).unlink(missing_ok=True)
    save_token(store, str(answer["token"]))
    if bundle_key is not None:
        _save_secret(bundle_key_path(store), bundle_key)
    else:  # another team's key must not vouch for this team's bundles
        bundle_key_path(store).unlink(missing_ok=True)
    with store.db.write() as s:
        set_setting(s, SERVER_KEY, server.rstrip("/"))
        set_setting(s, TEAM_KEY, answer["team"])
        set_setting(s, DEVICE_NAME_KEY, answer["device"])
        device_id(s)  # this laptop's device id exists from now on
    return str(answer["team"])


def _connect(
    store: Store, http: httpx.Client | None, server_cert: Path | None = None
) -> Connection:
    """A connection to the server this laptop is enrolled with, trusting server_cert or else
    the certificate kept at enrolment (if any)."""
    with store.db.read() as s:
        server = get_setting(s, SERVER_KEY)
    token = load_token(store)
    if not server or not token:
        raise SyncError(
            "this laptop is not enrolled: sync --server URL --enroll CODE (the code comes from "
            "the team server's admin)",
            "not_enrolled",
        )
    kept = server_cert_path(store)
    return Connection(str(server), token, http, server_cert or (kept if kept.exists() else None))


def trust_server_cert(store: Store, server_cert: Path) -> None:
    """Trust a new certificate of the team server (its admin renewed or replaced it). It is
    tried against the server first: a wrong file leaves the old one in place."""
    conn = _connect(store, None, server_cert)
    try:
        conn.json("GET", "/v1/me")
    finally:
        conn.close()
    assert conn.pem is not None
    write_atomic(server_cert_path(store), conn.pem.encode("ascii"), 0o644)


def sync_once(
    store: Store, progress: Progress | None = None, http: httpx.Client | None = None
) -> SyncReport:
    """Push, pull, then move evidence files. Safe to call again after any failure."""
    conn = _connect(store, http)
    report = SyncReport(server=conn.server)
    note = progress or (lambda stage, done, total: None)
    try:
        if load_bundle_key(store) is None:  # enrolled before teams had bundle keys
            bundle_key = _bundle_key_of(conn.json("GET", "/v1/me"))
            if bundle_key is not None:
                _save_secret(bundle_key_path(store), bundle_key)
        report.pushed = push(store, conn, note)
        report.snapshot = snapshot.bootstrap(store, conn, note)
        report.pulled, report.pages = pull(store, conn, note)
        report.pulled += report.snapshot
        report.uploaded = blobs.upload_missing(store, conn, note)
        report.downloaded = blobs.download_missing(store, conn, note)
    finally:
        conn.close()
    with store.db.write() as s:
        set_setting(s, LAST_SYNC_KEY, to_utc_text(utcnow()))
    report.status = sync_status(store)
    report.evidence_pending = report.status.evidence_pending
    report.conflicts = report.status.open_conflicts
    return report


def push(store: Store, conn: Connection, note: Progress) -> int:
    """Send the outbox (oldest first: a record's creation before its edits), batch by batch."""
    with store.db.read() as s:
        total = s.scalar(select(func.count()).where(Revision.server_seq.is_(None))) or 0
    if not total:
        return 0
    # A batch stays within half the server's body limit, however long the texts in it.
    limits = conn.json("GET", "/v1/hello").get("limits") or {}
    budget = int(limits.get("body") or wire.MAX_BODY) // 2
    sent = 0
    while True:
        with store.db.read() as s:
            rows = s.scalars(
                select(Revision)
                .where(Revision.server_seq.is_(None))
                .order_by(Revision.hlc, Revision.rev_id)
                .limit(PAGE)
            ).all()
            rev_ids: list[str] = []
            items: list[bytes] = []
            size = 0
            for row in rows:
                # Serialized once: the bytes that are measured are the bytes that are sent.
                item = json.dumps(
                    WireRevision.of(row).to_json(),
                    ensure_ascii=False,
                    separators=(",", ":"),
                    allow_nan=False,  # as httpx's json= encodes: no NaN the server cannot read
                ).encode()
                size += len(item)
                if items and size > budget:
                    break
                rev_ids.append(row.rev_id)
                items.append(item)
        if not items:
            return sent
        body = b'{"revisions":[' + b",".join(items) + b"]}"
        answer = conn.json(
            "POST", "/v1/push", content=body, headers={"Content-Type": "application/json"}
        )
        seqs: dict[str, int] = {}
        for result in answer["results"]:
            if result["status"] not in ("stored", "duplicate") or result["seq"] is None:
                raise SyncError(
                    f"the team server refused revision {result['rev_id']} ({result['status']})",
                    "rejected",
                )
            seqs[result["rev_id"]] = int(result["seq"])
        if set(seqs) != set(rev_ids):
            raise SyncError("the team server did not answer for every revision", "bad_answer")
        with store.db.write() as s:  # one executemany UPDATE by primary key, no rows loaded
            s.execute(
                update(Revision),
                [{"rev_id": rev_id, "server_seq": seq} for rev_id, seq in seqs.items()],
            )
        sent += len(items)
        note("push", sent, total)


@dataclass
class _Page:
    revisions: list[WireRevision]
    seqs: dict[str, int]
    cursor: int
    more: bool
    last: int  # the team's newest sequence number (0 from a server that does not say)


def _fetch_page(conn: Connection, cursor: int, limit: int) -> tuple[bytes, float]:
    """One pull page as it came, and how many seconds it took to arrive."""
    start = time.monotonic()
    content = conn.call("GET", "/v1/pull", params={"after": cursor, "limit": limit}).content
    return content, time.monotonic() - start


def _parse_page(content: bytes) -> _Page:
    try:
        page = orjson.loads(content)  # a page is megabytes: orjson reads it 2-3x faster
        items = page["revisions"]
        revs = [WireRevision.from_json(item["revision"]) for item in items]
        seqs = {rev.rev_id: int(item["seq"]) for rev, item in zip(revs, items, strict=True)}
        last = int(page.get("last") or 0)
        return _Page(revs, seqs, int(page["cursor"]), bool(page.get("more")), last)
    except (KeyError, TypeError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise SyncError(f"the team server sent a damaged page ({exc})", "bad_answer") from exc


def pull(store: Store, conn: Connection, note: Progress) -> tuple[int, int]:
    """Fetch the team's revisions after this laptop's cursor. Each page is applied and the
    cursor moved in one transaction: an interrupted pull resumes exactly where it stopped.
    Pages double in size while they arrive fast (a first sync of a big team is a hundred
    thousand revisions), and the next page is on its way while one is applied. (It is read
    and parsed here, not on the fetching thread: two threads of Python work would only take
    turns, and slow the database writes down.)"""
    with store.db.read() as s:
        start = cursor = int(get_setting(s, CURSOR_KEY, 0))
    new = pages = 0
    limit = min(FIRST_PULL_PAGE, PULL_PAGE)
    fetcher = ThreadPoolExecutor(1, thread_name_prefix="kua-pull")
    try:
        ahead = fetcher.submit(_fetch_page, conn, cursor, limit)
        while True:
            content, seconds = ahead.result()
            with collector_paused():
                page = _parse_page(content)
                if page.more and page.revisions:
                    if seconds < FAST_PAGE:
                        limit = min(2 * limit, PULL_PAGE)
                    ahead = fetcher.submit(_fetch_page, conn, page.cursor, limit)
                if page.revisions:
                    # Not fsynced: a page lost to a power cut takes its cursor with it, and is
                    # pulled again.
                    with store.db.write(durable=False) as s:
                        new += apply_revisions(s, page.revisions, page.seqs).new
                        set_setting(s, CURSOR_KEY, page.cursor)
                    pages += 1
            if page.revisions:  # progress: how far along the team's sequence
                note("pull", page.cursor - start, max(page.last, page.cursor) - start)
            if not page.more or not page.revisions:
                return new, pages
    finally:
        fetcher.shutdown(wait=True, cancel_futures=True)


def sync_status(store: Store) -> SyncStatus:
    """What the status bar shows: where this laptop syncs, and what is still waiting."""
    with store.db.read() as s:
        pending = s.scalar(select(func.count()).where(Revision.server_seq.is_(None))) or 0
        conflicts = s.scalar(select(func.count()).select_from(SyncConflict)) or 0
        server = get_setting(s, SERVER_KEY)
        waiting = blobs.pending(store, s)
        return SyncStatus(
            server=server,
            team=get_setting(s, TEAM_KEY),
            enrolled=bool(server) and load_token(store) is not None,
            last_sync=get_setting(s, LAST_SYNC_KEY),
            pending_revisions=pending,
            pending_uploads=len(waiting.uploads),
            evidence_pending=len(waiting.evidence),
            open_conflicts=conflicts,
        )


class ASGITransport(httpx.BaseTransport):
    """Runs an ASGI app (the team server) in this process, for tests and the property test's
    speed: each request is served on a fresh event loop, so the caller stays synchronous."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        async def run() -> httpx.Response:
            body = request.read()
            areq = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            resp = await self.inner.handle_async_request(areq)
            content = b"".join([c async for c in resp.aiter_raw()])  # as sent (maybe gzip)
            return httpx.Response(
                resp.status_code, headers=resp.headers, content=content, request=request
            )

        return asyncio.run(run())
