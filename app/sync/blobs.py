"""Evidence files on the move. A record may arrive before its photo's bytes do: that evidence is
"pending" (shown as such, never an error) until a sync or a bundle brings the bytes.

Files travel by SHA-256: the laptop asks the server which it lacks and uploads only those, in
chunks; an interrupted upload or download continues from its offset; bytes are checked against
their hash before they are stored, on the server and here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store import Store
from app.sync import Progress, SyncError
from storage.blobs import BlobMismatch
from storage.models import Evidence, SyncedBlob

if TYPE_CHECKING:
    from app.sync.client import Connection

UPLOAD_CHUNK = 1024 * 1024  # smaller than the server's limit: a cut connection costs little
DOWNLOAD_CHUNK = 1024 * 1024
ASK = 500  # hashes per "which do you lack?" question


def evidence_state(store: Store, sha256: str) -> str:
    """ "present" when the file's bytes are on this laptop, else "pending" (still on its way)."""
    return "present" if store.blobs.has(sha256) else "pending"


@dataclass(frozen=True)
class Pending:
    evidence: list[str]  # hashes of evidence files whose bytes have not reached this laptop
    uploads: list[str]  # hashes of evidence files here the team server is not known to hold


def pending(store: Store, session: Session) -> Pending:
    """Both lists from one query and one look at the disk per file (the status bar asks)."""
    done = set(session.scalars(select(SyncedBlob.sha256)))
    evidence: list[str] = []
    uploads: list[str] = []
    for h in session.scalars(select(Evidence.sha256).distinct()):
        if not store.blobs.has(h):
            evidence.append(h)
        elif h not in done:
            uploads.append(h)
    return Pending(evidence, uploads)


def pending_evidence(store: Store, session: Session) -> list[str]:
    """Hashes of evidence files whose bytes have not reached this laptop yet."""
    return pending(store, session).evidence


def pending_uploads(store: Store, session: Session) -> list[str]:
    """Hashes of evidence files here that the team server is not known to hold."""
    return pending(store, session).uploads


def _mark_synced(store: Store, hashes: list[str]) -> None:
    if not hashes:
        return
    with store.db.write() as s:
        have = set(s.scalars(select(SyncedBlob.sha256).where(SyncedBlob.sha256.in_(hashes))))
        s.add_all(SyncedBlob(sha256=h) for h in dict.fromkeys(hashes) if h not in have)


def upload_missing(store: Store, conn: Connection, note: Progress) -> int:
    with store.db.read() as s:
        candidates = pending_uploads(store, s)
    sent = 0
    for i in range(0, len(candidates), ASK):
        group = candidates[i : i + ASK]
        missing = conn.json("POST", "/v1/blobs/missing", json={"sha256": group})["missing"]
        _mark_synced(store, [h for h in group if h not in set(missing)])
        for sha256 in missing:
            upload(store, conn, sha256)
            _mark_synced(store, [sha256])
            sent += 1
            note("upload", sent, len(candidates))
    return sent


def upload(store: Store, conn: Connection, sha256: str) -> None:
    path = store.blobs.path(sha256)
    size = path.stat().st_size
    state = conn.json("GET", f"/v1/blobs/{sha256}/upload")
    offset = int(state["offset"])
    with open(path, "rb") as f:
        while not state["complete"]:
            f.seek(offset)
            chunk = f.read(UPLOAD_CHUNK)
            try:
                state = conn.json(
                    "PUT",
                    f"/v1/blobs/{sha256}",
                    params={"offset": offset, "size": size},
                    content=chunk,
                )
            except SyncError as exc:
                if exc.reason != "wrong_offset":
                    raise
                state = conn.json("GET", f"/v1/blobs/{sha256}/upload")  # continue where it is
            offset = int(state["offset"])


def download_missing(store: Store, conn: Connection, note: Progress) -> int:
    with store.db.read() as s:
        wanted = pending_evidence(store, s)
    got = 0
    for sha256 in wanted:
        try:
            download(store, conn, sha256)
        except SyncError as exc:
            if exc.reason == "no_such_blob":  # not uploaded by its laptop yet: stays pending
                continue
            raise
        _mark_synced(store, [sha256])
        got += 1
        note("download", got, len(wanted))
    return got


def download(store: Store, conn: Connection, sha256: str) -> None:
    """Fetch a file in chunks into a partial file beside the store (kept across interruptions),
    then check its hash before it joins the store."""
    part = store.data_dir / "incoming" / f"{sha256}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    while True:
        offset = part.stat().st_size if part.exists() else 0
        resp = conn.call(
            "GET", f"/v1/blobs/{sha256}", params={"offset": offset, "length": DOWNLOAD_CHUNK}
        )
        size = int(resp.headers.get("X-Blob-Size", "-1"))
        if resp.content:
            with open(part, "ab") as f:
                f.write(resp.content)
        done = part.stat().st_size if part.exists() else 0
        if done >= size or not resp.content:
            break
    part.touch()  # an empty file never got a chunk
    try:
        if part.stat().st_size != size:
            part.unlink()
            raise BlobMismatch(f"{part.name}: not the size the server gave")
        # Hashed and renamed into the store (same filesystem: both are in the data folder),
        # not read into memory: evidence files can be gigabytes.
        store.blobs.adopt(part, sha256)
    except BlobMismatch:
        raise SyncError(
            f"evidence file {sha256[:12]}… arrived damaged (its bytes do not match its hash); "
            "it stays pending and is fetched again next sync",
            "hash_mismatch",
        ) from None
