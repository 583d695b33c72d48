"""The team server's HTTP API (FastAPI; its OpenAPI description is at /openapi.json, /docs).

Every answer other than 2xx is JSON {"error": REASON, "message": TEXT}: REASON is for programs,
TEXT for people. A client's bad input is always a 4xx, never a 5xx. Every request names the
protocol and schema it speaks; outside the server's range it gets 426 and an "update" reason
before anything is read or written. Every call but hello and enrol needs a device token, and
sees only its own team's revisions and files.
"""

import gzip
import hashlib
import math
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, Text, cast, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from app.server.models import Device, StoredBlob, StoredRevision, Team
from app.server.snapshots import Snapshots
from app.sync import wire
from storage.blobs import BlobMismatch, BlobStore
from storage.timeutil import utcnow

MAX_BLOB = 4 * 1024 * 1024 * 1024  # one evidence file (a long video is the largest we expect)
MAX_HASHES = 1000  # hashes in one "which do you lack?" question
MAX_SEQ = 2**63 - 1  # a cursor beyond a 64-bit integer is refused (422), not a 500
GZIP_FROM = 4096  # bytes: a pull page this long goes out compressed to a client that takes it
PULL_BYTES = 8 * 1024 * 1024  # a pull page stops growing past this (at least one revision)
ENROL_FAILURES = 10  # wrong enrolment codes one address may send per window...
ENROL_WINDOW_S = 600  # ...of this many seconds; then 429 until the oldest leaves the window


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.extra = status, reason, message, extra
        self.headers = headers


def _error(
    status: int, reason: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": reason, "message": message, **extra}, status_code=status, headers=headers
    )


class FailedAttempts:
    """Failed attempts per client address within a sliding window. Kept in this process only:
    a restart forgets them, which gives a guesser a few more tries against 80-bit codes."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float]) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self.times: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def _recent(self, who: str, now: float) -> deque[float]:
        times = self.times.get(who, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            self.times.pop(who, None)
        return times

    def wait_s(self, who: str) -> int:
        """Seconds until `who` may try again; 0: now."""
        with self.lock:
            now = self.clock()
            times = self._recent(who, now)
            if len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, who: str) -> None:
        with self.lock:
            now = self.clock()
            if len(self.times) > 10_000:  # many addresses: forget those whose window passed
                for old in list(self.times):
                    self._recent(old, now)
            self.times.setdefault(who, deque()).append(now)


class BodyLimit:
    """Refuses a request body larger than the limit before the app reads a byte of it, and one
    without a declared length (so a client cannot stream an endless body)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            answer: JSONResponse | None = None
            if length is None:
                answer = _error(411, "length_required", "send a Content-Length header")
            elif not length.isdigit() or int(length) > self.limit:
                answer = _error(
                    413,
                    "body_too_large",
                    f"a request body may hold at most {self.limit} bytes",
                    limit=self.limit,
                )
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- request and answer bodies (these make the OpenAPI description) ---------------------------

_UUID = wire.UUID_RE.pattern
_SHA = wire.SHA256_RE.pattern


class RevisionIn(BaseModel):
    rev_id: str = Field(pattern=_UUID)
    entity: str = Field(min_length=1, max_length=40)
    record_id: str = Field(pattern=_UUID)
    op: str = Field(pattern="^(" + "|".join(wire.OPS) + ")$")
    parents: list[Annotated[str, Field(pattern=_UUID)]] = Field(max_length=64)
    device_id: str = Field(pattern=_UUID)
    hlc: str = Field(pattern=wire.HLC_RE.pattern)
    fields: dict[str, Any]
    created_at: str = Field(max_length=40)


class PushBatch(BaseModel):
    revisions: list[RevisionIn]


class PushAnswer(BaseModel):
    rev_id: str
    status: str = Field(
        description="stored, duplicate (already here: nothing changed) or "
        "rejected (the id is taken by a different revision)"
    )
    seq: int | None


class PushResult(BaseModel):
    results: list[PushAnswer]
    last_seq: int


class PulledRevision(BaseModel):
    seq: int
    revision: dict[str, Any]


class PullPage(BaseModel):
    revisions: list[PulledRevision]
    cursor: int
    more: bool
    last: int  # the team's newest sequence number: how far a pull has to go (for progress)


class EnrolIn(BaseModel):
    code: str = Field(min_length=4, max_length=64)
    device_id: str | None = Field(default=None, pattern=_UUID)


BundleKey = Annotated[
    str,
    Field(
        description="the team's secret for USB bundles (64 hex digits, 32 bytes): its laptops "
        "sign bundles with HMAC-SHA256 under it; kept like the token"
    ),
]


class EnrolOut(BaseModel):
    token: str
    team: str
    device: str
    bundle_key: BundleKey


class MeOut(BaseModel):
    team: str
    device: str
    bundle_key: BundleKey


class HashList(BaseModel):
    sha256: list[Annotated[str, Field(pattern=_SHA)]] = Field(max_length=MAX_HASHES)


class MissingOut(BaseModel):
    missing: list[str]


class UploadState(BaseModel):
    offset: int
    complete: bool


# --- the app ---------------------------------------------------------------------------------


@dataclass
class Caller:
    device_id: int
    team_id: int
    team: str
    name: str
    bundle_key: str


class SnapshotOut(BaseModel):
    seq: int
    sha256: str  # of the database
    size: int  # its bytes
    packed: int  # the bytes to download: the database compressed with zlib
    pages: int  # about the bytes of the same revisions as compressed pull pages
    schema_: str = Field(alias="schema")
    merge: int


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_app(
    engine: Engine,
    blobs_dir: Path,
    max_body: int = wire.MAX_BODY,
    *,
    enrol_failures: int = ENROL_FAILURES,
    enrol_window_s: float = ENROL_WINDOW_S,
    clock: Callable[[], float] = time.monotonic,
    snapshots: Snapshots | None = None,
) -> ASGIApp:
    """The server's ASGI app. With snapshots, their builder runs while the app is served."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if snapshots is not None:
            snapshots.start()
        try:
            yield
        finally:
            if snapshots is not None:
                snapshots.stop()

    api = FastAPI(
        title="Kuä team server",
        version=f"protocol {wire.PROTOCOL}",
        description="Relays revisions and evidence files between the laptops of a team.",
        lifespan=lifespan,
    )
    # One writer at a time per process: SQLite has one anyway, and the per-team counter in
    # PostgreSQL is also locked row-wise (FOR UPDATE) for several server processes.
    write_lock = threading.Lock()
    blob_lock = threading.Lock()
    # Codes are 80 bits, yet guessing must stay slow: a few wrong codes per address and window.
    enrol_failed = FailedAttempts(enrol_failures, enrol_window_s, clock)

    def team_blobs(team_id: int) -> BlobStore:
        return BlobStore(blobs_dir / f"team-{team_id}")

    def partial_path(team_id: int, sha256: str) -> Path:
        return blobs_dir / f"team-{team_id}" / ".partial" / sha256

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.reason, exc.message, exc.headers, **exc.extra)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "malformed_json", "the request body is not valid JSON")
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(
            422,
            "invalid_request",
            f"{where}: {first.get('msg', 'invalid')}",
            problems=len(errors),
        )

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, reason, str(exc.detail))

    def versions(
        kua_protocol: Annotated[str | None, Header()] = None,
        kua_schema: Annotated[str | None, Header()] = None,
    ) -> None:
        try:
            protocol, schema = int(kua_protocol or ""), int(kua_schema or "")
        except ValueError:
            raise ApiError(
                426,
                "update_required",
                f"send {wire.PROTOCOL_HEADER} and {wire.SCHEMA_HEADER} headers (this server "
                f"speaks protocol {wire.MIN_PROTOCOL}-{wire.PROTOCOL})",
            ) from None
        if protocol < wire.MIN_PROTOCOL or schema < wire.MIN_SCHEMA:
            raise ApiError(
                426,
                "client_too_old",
                "this app is too old for the team server: update Kuä, then sync again",
                protocol=[wire.MIN_PROTOCOL, wire.PROTOCOL],
                schema=[wire.MIN_SCHEMA, wire.SCHEMA],
            )
        if protocol > wire.PROTOCOL or schema > wire.SCHEMA:
            raise ApiError(
                426,
                "server_too_old",
                "the team server is older than this app: ask its administrator to update it",
                protocol=[wire.MIN_PROTOCOL, wire.PROTOCOL],
                schema=[wire.MIN_SCHEMA, wire.SCHEMA],
            )

    def caller(
        _v: Annotated[None, Depends(versions)],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Caller:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "token_missing", "this device is not enrolled: no token was sent")
        digest = hash_secret(authorization.removeprefix("Bearer ").strip())
        with Session(engine) as s:
            row = s.execute(
                select(Device, Team)
                .join(Team, Team.id == Device.team_id)
                .where(Device.token_hash == digest)
            ).first()
            if row is None:
                raise ApiError(401, "invalid_token", "the server does not know this device")
            device, team = row
            if device.revoked_at is not None:
                raise ApiError(401, "token_revoked", "this device was revoked by the server admin")
            return Caller(device.id, team.id, team.name, device.name, team.bundle_key)

    Authed = Annotated[Caller, Depends(caller)]

    @api.get("/v1/hello")
    def hello() -> dict[str, Any]:
        """What this server speaks; the only call that needs neither versions nor a token."""
        return {
            "service": "kua-team-server",
            "protocol": {"min": wire.MIN_PROTOCOL, "max": wire.PROTOCOL},
            "schema": {"min": wire.MIN_SCHEMA, "max": wire.SCHEMA},
            "limits": {"body": max_body, "batch": wire.MAX_BATCH, "chunk": wire.MAX_CHUNK},
        }

    @api.post(
        "/v1/enrol",
        dependencies=[Depends(versions)],
        responses={429: {"description": "too many wrong codes from this address (Retry-After)"}},
    )
    def enrol(body: EnrolIn, request: Request) -> EnrolOut:
        """Trade a one-time enrolment code for this device's token (shown once, kept hashed).
        After too many wrong codes from one address: 429 too_many_attempts and Retry-After."""
        # Behind a reverse proxy on this machine, uvicorn puts its X-Forwarded-For here.
        address = request.client.host if request.client else "?"
        wait = enrol_failed.wait_s(address)
        if wait:
            raise ApiError(
                429,
                "too_many_attempts",
                f"too many wrong enrolment codes from this address: try again in "
                f"{math.ceil(wait / 60)} min",
                headers={"Retry-After": str(wait)},
                retry_after=wait,
            )
        token = os.urandom(32).hex()
        with write_lock, Session(engine) as s, s.begin():
            device = s.scalars(
                select(Device).where(
                    Device.enrol_code_hash == hash_secret(normalize_code(body.code))
                )
            ).first()
            now = utcnow()
            if (
                device is None
                or device.revoked_at is not None
                or (device.enrol_expires_at is not None and device.enrol_expires_at < now)
            ):
                enrol_failed.failed(address)
                raise ApiError(
                    401,
                    "invalid_enrolment_code",
                    "this enrolment code is wrong, used or expired: ask for a new one",
                )
            device.enrol_code_hash = None
            device.token_hash = hash_secret(token)
            device.enrolled_at = now
            device.client_device_id = body.device_id
            team = s.get(Team, device.team_id)
            assert team is not None
            return EnrolOut(
                token=token, team=team.name, device=device.name, bundle_key=team.bundle_key
            )

    @api.get("/v1/me")
    def me(who: Authed) -> MeOut:
        """This device's team and name, and the team's bundle key (a laptop enrolled before
        teams had one fetches it here)."""
        return MeOut(team=who.team, device=who.name, bundle_key=who.bundle_key)

    @api.post("/v1/push")
    def push(batch: PushBatch, who: Authed) -> PushResult:
        """Store revisions, each once: a replayed batch changes nothing and gets the same seqs."""
        if len(batch.revisions) > wire.MAX_BATCH:
            raise ApiError(
                413,
                "batch_too_large",
                f"at most {wire.MAX_BATCH} revisions per push",
                limit=wire.MAX_BATCH,
            )
        answers: list[PushAnswer] = []
        with write_lock, Session(engine) as s, s.begin():
            team = s.get(Team, who.team_id, with_for_update=True)
            assert team is not None
            ids = [r.rev_id for r in batch.revisions]
            have = {
                row.rev_id: row
                for row in s.scalars(
                    select(StoredRevision).where(
                        StoredRevision.team_id == who.team_id, StoredRevision.rev_id.in_(ids)
                    )
                )
            }
            for rev in batch.revisions:
                body = rev.model_dump()
                row = have.get(rev.rev_id)
                if row is not None:
                    same = row.body == body
                    answers.append(
                        PushAnswer(
                            rev_id=rev.rev_id,
                            status="duplicate" if same else "rejected",
                            seq=row.seq if same else None,
                        )
                    )
                    continue
                # rev.device_id may name another laptop: one passes on what it received by USB
                # bundle. That is intended; pushed_by records which device really sent it.
                team.last_seq += 1
                row = StoredRevision(
                    team_id=who.team_id,
                    seq=team.last_seq,
                    rev_id=rev.rev_id,
                    body=body,
                    pushed_by=who.device_id,
                )
                s.add(row)
                have[rev.rev_id] = row
                answers.append(PushAnswer(rev_id=rev.rev_id, status="stored", seq=team.last_seq))
            last = team.last_seq
        if snapshots is not None and any(a.status == "stored" for a in answers):
            snapshots.poke()
        return PushResult(results=answers, last_seq=last)

    @api.get("/v1/pull", response_model=PullPage)
    def pull(
        who: Authed,
        accept_encoding: Annotated[str | None, Header()] = None,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, Query(ge=1, le=wire.MAX_PULL)] = 200,
    ) -> Response:
        """The team's revisions after the cursor, in sequence order, a page at a time."""
        # The bodies go out as stored: decoding and re-encoding thousands of them per page
        # would cost the server more than reading them.
        # Read row by row, and at most PULL_BYTES of them: a page of a few very large revisions
        # stays as small in memory as one of many small ones.
        items: list[str] = []
        size, cursor, more = 0, after, False
        with Session(engine) as s:
            rows = s.execute(
                select(StoredRevision.seq, cast(StoredRevision.body, Text))
                .where(StoredRevision.team_id == who.team_id, StoredRevision.seq > after)
                .order_by(StoredRevision.seq)
                .limit(limit + 1)
                .execution_options(yield_per=100)
            )
            for seq, body in rows:
                if len(items) == limit or (items and size + len(body) > PULL_BYTES):
                    more = True
                    break
                items.append(f'{{"seq":{seq},"revision":{body}}}')
                size += len(body)
                cursor = seq
            rows.close()
            last = s.scalar(select(Team.last_seq).where(Team.id == who.team_id)) or 0
        tail = f'"cursor":{cursor},"more":{"true" if more else "false"},"last":{last}'
        content = f'{{"revisions":[{",".join(items)}],{tail}}}'.encode()
        if len(content) >= GZIP_FROM and "gzip" in (accept_encoding or ""):
            # A page of revisions shrinks to an eighth: what counts on a mobile link.
            return Response(
                gzip.compress(content, 1),
                media_type="application/json",
                headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
            )
        return Response(content, media_type="application/json")

    @api.get("/v1/snapshot", responses={404: {"description": "no snapshot of this team (yet)"}})
    def snapshot(who: Authed) -> SnapshotOut:
        """The team's ready-made snapshot: a laptop database holding the team's records and
        revisions up to seq, for a laptop that has none yet (it pulls what came after)."""
        info = snapshots.current(who.team_id) if snapshots is not None else None
        if info is None:
            raise ApiError(404, "no_snapshot", "this team has no snapshot (yet): pull its changes")
        return SnapshotOut(**info.to_json())  # type: ignore[arg-type]

    @api.get("/v1/snapshot/{sha256}")
    def snapshot_bytes(
        sha256: str,
        who: Authed,
        offset: Annotated[int, Query(ge=0, le=MAX_BLOB)] = 0,
        length: Annotated[int, Query(ge=1, le=wire.MAX_SNAPSHOT_CHUNK)] = wire.MAX_SNAPSHOT_CHUNK,
    ) -> Response:
        """A piece of a snapshot file; a replaced one is kept until the next replaces it."""
        check_sha(sha256)
        path = snapshots.path(who.team_id, sha256) if snapshots is not None else None
        try:
            if path is None:
                raise FileNotFoundError(sha256)
            data = read_piece(path, offset, length)
        except FileNotFoundError:
            raise ApiError(
                404, "no_such_snapshot", "this snapshot was replaced by a newer one: ask again"
            ) from None
        return Response(data, media_type="application/octet-stream")

    @api.post("/v1/blobs/missing")
    def missing(body: HashList, who: Authed) -> MissingOut:
        """Which of these evidence files the team's server lacks (so only those are sent)."""
        with Session(engine) as s:
            have = set(
                s.scalars(
                    select(StoredBlob.sha256).where(
                        StoredBlob.team_id == who.team_id, StoredBlob.sha256.in_(body.sha256)
                    )
                )
            )
        return MissingOut(missing=[h for h in dict.fromkeys(body.sha256) if h not in have])

    def check_sha(sha256: str) -> None:
        if not wire.SHA256_RE.match(sha256):
            raise ApiError(422, "invalid_hash", "a blob is named by its SHA-256 in lower-case hex")

    def has_blob(team_id: int, sha256: str) -> StoredBlob | None:
        with Session(engine) as s:
            return s.get(StoredBlob, (team_id, sha256))

    @api.get("/v1/blobs/{sha256}/upload")
    def upload_state(sha256: str, who: Authed) -> UploadState:
        """Where an interrupted upload continues from."""
        check_sha(sha256)
        stored = has_blob(who.team_id, sha256)
        if stored is not None:
            return UploadState(offset=stored.size, complete=True)
        part = partial_path(who.team_id, sha256)
        return UploadState(offset=part.stat().st_size if part.exists() else 0, complete=False)

    def receive_chunk(
        who: Caller, sha256: str, offset: int, size: int, chunk: bytes
    ) -> UploadState:
        with blob_lock:
            stored = has_blob(who.team_id, sha256)
            if stored is not None:
                return UploadState(offset=stored.size, complete=True)
            part = partial_path(who.team_id, sha256)
            part.parent.mkdir(parents=True, exist_ok=True)
            current = part.stat().st_size if part.exists() else 0
            if offset != current:
                raise ApiError(
                    409, "wrong_offset", f"the upload continues at byte {current}", offset=current
                )
            if current + len(chunk) > size:
                part.unlink(missing_ok=True)
                raise ApiError(422, "too_many_bytes", "more bytes than the declared size")
            with open(part, "ab") as f:
                f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            current += len(chunk)
            if current < size:
                return UploadState(offset=current, complete=False)
            # Hashed from disk and renamed into the store (.partial/ is inside it): a file of
            # up to MAX_BLOB is never held in memory nor written twice.
            try:
                team_blobs(who.team_id).adopt(part, sha256)
            except BlobMismatch:  # (the partial file is gone: the upload starts over)
                raise ApiError(
                    422, "hash_mismatch", "the bytes do not match their SHA-256: nothing was stored"
                ) from None
            with Session(engine) as s, s.begin():
                s.add(
                    StoredBlob(
                        team_id=who.team_id, sha256=sha256, size=size, uploaded_by=who.device_id
                    )
                )
            return UploadState(offset=size, complete=True)

    @api.put(
        "/v1/blobs/{sha256}",
        openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}}},
    )
    async def upload(
        request: Request,
        sha256: str,
        who: Authed,
        offset: Annotated[int, Query(ge=0, le=MAX_BLOB)],
        size: Annotated[int, Query(ge=0, le=MAX_BLOB)],
    ) -> UploadState:
        """One chunk of an evidence file, at its offset; the last one is checked by its hash."""
        check_sha(sha256)
        chunk = await request.body()
        if len(chunk) > wire.MAX_CHUNK:
            raise ApiError(
                413,
                "chunk_too_large",
                f"at most {wire.MAX_CHUNK} bytes per chunk",
                limit=wire.MAX_CHUNK,
            )
        return await run_in_threadpool(receive_chunk, who, sha256, offset, size, chunk)

    @api.get("/v1/blobs/{sha256}")
    def download(
        sha256: str,
        who: Authed,
        offset: Annotated[int, Query(ge=0, le=MAX_BLOB)] = 0,
        length: Annotated[int, Query(ge=1, le=wire.MAX_CHUNK)] = wire.MAX_CHUNK,
    ) -> Response:
        """A piece of an evidence file the team holds (X-Blob-Size says the whole size)."""
        check_sha(sha256)
        stored = has_blob(who.team_id, sha256)
        if stored is None:
            raise ApiError(404, "no_such_blob", "the team's server does not hold this file")
        data = read_piece(team_blobs(who.team_id).path(sha256), offset, length)
        return Response(
            data, media_type="application/octet-stream", headers={"X-Blob-Size": str(stored.size)}
        )

    return BodyLimit(api, max_body)


def read_piece(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())
