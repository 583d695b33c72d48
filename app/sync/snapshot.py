"""An empty laptop starts from the team's snapshot (app/server/snapshots.py): the server's own
copy of the team's records, merged by the same code, as a laptop database. It is downloaded
compressed, in pieces (an interrupted download continues), checked against its SHA-256, and its
tables are copied in one transaction together with the pull cursor it covers; the pull then goes
on from there. Only a laptop with no revision at all takes it (there is nothing of its own to
merge); whenever the snapshot cannot be used, the laptop pulls page by page as before."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.store import Store, get_setting, set_setting
from app.sync import CURSOR_KEY, Progress, SyncError, wire
from app.sync.merge import ENTITIES, MERGE_VERSION
from storage import audit
from storage.db import head_revision
from storage.models import RecordAlias, RecordHeads, Revision, SyncConflict
from storage.revisions import device_id

if TYPE_CHECKING:
    from app.sync.client import Connection

log = logging.getLogger("kua.sync")

SMALL = 5000
"""Revisions below which the snapshot is taken without asking how fast the link is: either way
is a few seconds."""
PROBE = 1 << 20  # bytes of the first piece, timed to tell the link's speed
PAGES_PER_S = 20_000  # revisions a laptop merges per second from pages (33k on the dev machine)
SNAPSHOT_PER_S = 80_000  # ...and takes per second from a snapshot (100k there)

TABLES = [
    *ENTITIES,  # referred-to records first (elections before stations before incidents)
    *(m.__tablename__ for m in (Revision, RecordHeads, RecordAlias, SyncConflict)),
]
"""What a snapshot brings: the synced records and the merge's bookkeeping. Settings, the audit
log and the evidence files stay this laptop's own."""


def is_empty(session: Session) -> bool:
    return not get_setting(session, CURSOR_KEY, 0) and (
        session.scalar(select(Revision.rev_id).limit(1)) is None
    )


def bootstrap(store: Store, conn: Connection, note: Progress) -> int:
    """Start this (empty) laptop from the team's snapshot; the revisions it brought (0: none
    was used, and the pull takes everything page by page)."""
    with store.db.read() as s:
        if not is_empty(s):
            return 0
    try:
        meta = conn.json("GET", "/v1/snapshot")
    except SyncError as exc:
        if exc.status == 404:  # none yet, or a server older than snapshots
            return 0
        raise
    try:
        seq, sha256 = int(meta["seq"]), str(meta["sha256"])
        size, packed, pages = int(meta["size"]), int(meta["packed"]), int(meta["pages"])
        made_by = (str(meta["schema"]), int(meta["merge"]))
    except (KeyError, TypeError, ValueError):
        raise SyncError("the team server described its snapshot wrongly", "bad_answer") from None
    if made_by != (head_revision(), MERGE_VERSION) or not wire.SHA256_RE.match(sha256):
        return 0  # made by another version of the app: the pages serve as well
    if size <= 0 or packed <= 0:
        raise SyncError("the team server described its snapshot wrongly", "bad_answer")
    folder = store.data_dir / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    part, database = folder / f"snapshot-{sha256}.part", folder / f"snapshot-{sha256}.db"
    for old in folder.glob("snapshot-*"):
        if old != part:  # an older snapshot's piece, or a database left by a crash
            old.unlink(missing_ok=True)

    def worth_it(bytes_per_s: float) -> bool:
        """Whether over this link the snapshot arrives and is taken sooner than the same
        revisions as pages (fewer bytes, but merged here)."""
        more_bytes = max(0, packed - pages) / bytes_per_s
        less_work = seq / PAGES_PER_S - seq / SNAPSHOT_PER_S
        return more_bytes < less_work

    # A big team's snapshot is a few times the bytes of its pages: on a slow link the pages
    # win. The first piece tells how fast this link is.
    probe = None if seq < SMALL or packed <= pages else worth_it
    # An interrupted download (an exception) keeps its piece: the next sync goes on from there.
    if not _download(conn, part, sha256, packed, note, probe):
        part.unlink(missing_ok=True)
        return 0
    try:
        if not _inflate(part, database, sha256, size):
            log.warning("the team snapshot %s arrived damaged; pulling page by page", sha256[:12])
            return 0
        return _take(store, database, seq, sha256)
    finally:
        part.unlink(missing_ok=True)
        database.unlink(missing_ok=True)


def _download(
    conn: Connection,
    part: Path,
    sha256: str,
    packed: int,
    note: Progress,
    probe: Callable[[float], bool] | None,
) -> bool:
    """Fetch the published (compressed) file into part, from where an interrupted download
    stopped; False if the server replaced it meanwhile, or if probe(bytes per second of the
    first piece) says the link is too slow for it to be worth it."""
    done = part.stat().st_size if part.exists() else 0
    probing = probe is not None and done == 0
    with open(part, "ab") as f:
        while done < packed:
            length = PROBE if probing else wire.MAX_SNAPSHOT_CHUNK
            start = time.monotonic()
            try:
                resp = conn.call(
                    "GET", f"/v1/snapshot/{sha256}", params={"offset": done, "length": length}
                )
            except SyncError as exc:
                if exc.reason == "no_such_snapshot":
                    return False
                raise
            if not resp.content:
                break
            if probing and probe is not None:
                probing = False
                speed = len(resp.content) / max(time.monotonic() - start, 1e-6)
                if not probe(speed):
                    log.info("the link brings %d bytes/s: pages, not the snapshot", speed)
                    return False
            f.write(resp.content)
            done += len(resp.content)
            note("snapshot", min(done, packed), packed)
    return True


def _inflate(part: Path, database: Path, sha256: str, size: int) -> bool:
    """Decompress part into database; whether that is the database the server described."""
    digest, inflate, written = hashlib.sha256(), zlib.decompressobj(), 0
    try:
        with open(part, "rb") as src, open(database, "wb") as out:
            while chunk := src.read(1 << 20):
                data = inflate.decompress(chunk)
                digest.update(data)
                out.write(data)
                written += len(data)
                if written > size:  # more than described: not that database
                    return False
            tail = inflate.flush()
            digest.update(tail)
            out.write(tail)
            written += len(tail)
    except zlib.error:
        return False
    return inflate.eof and written == size and digest.hexdigest() == sha256


def _take(store: Store, path: Path, seq: int, sha256: str) -> int:
    """Copy the snapshot's tables into this laptop in one transaction, with the cursor it
    covers. A file that is not a sound snapshot of this schema is not taken (0)."""
    with store.db.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        # Attached outside any transaction (SQLite refuses it inside one). Only its tables are
        # read (_unsound: none of the names is a view), so none of its code runs here.
        raw.execute("ATTACH DATABASE ? AS snapshot", (str(path),))
        try:
            problem = _unsound(raw)
            if problem:
                log.warning("the team snapshot %s is unusable (%s)", sha256[:12], problem)
                return 0
            conn = conn.execution_options(kua_write=True, kua_durable=False)
            with Session(bind=conn) as s, s.begin():
                if not is_empty(s):  # this laptop wrote something meanwhile
                    return 0
                for table in TABLES:
                    names = ", ".join(f'"{c}"' for c in _columns(raw, "main", table))
                    s.connection().exec_driver_sql(
                        f'INSERT INTO main."{table}" ({names}) SELECT {names} '
                        f'FROM snapshot."{table}"'
                    )
                revisions = int(raw.execute("SELECT count(*) FROM main.revision").fetchone()[0])
                set_setting(s, CURSOR_KEY, seq)
                detail = {"snapshot": sha256, "seq": seq, "revisions": revisions}
                audit.append(s, device_id(s), "sync", "revision", None, detail)
            return revisions
        except (sqlite3.DatabaseError, SQLAlchemyError) as exc:
            log.warning("the team snapshot %s could not be taken (%s)", sha256[:12], exc)
            return 0
        finally:
            conn.rollback()
            raw.execute("DETACH DATABASE snapshot")


def _columns(raw: Any, schema: str, table: str) -> list[str]:
    return [row[1] for row in raw.execute(f'PRAGMA {schema}.table_info("{table}")')]


def _unsound(raw: Any) -> str | None:
    """Why the attached file is not a snapshot this laptop can take, or None."""
    if raw.execute("PRAGMA snapshot.quick_check").fetchone()[0] != "ok":
        return "damaged"
    kinds = dict(raw.execute("SELECT name, type FROM snapshot.sqlite_master"))
    if kinds.get("alembic_version") != "table":
        return "not a laptop database"
    (version,) = raw.execute("SELECT version_num FROM snapshot.alembic_version").fetchone()
    if version != head_revision():
        return f"schema {version}"
    for table in TABLES:
        if kinds.get(table) != "table" or set(_columns(raw, "snapshot", table)) != set(
            _columns(raw, "main", table)
        ):
            return f"table {table} differs"
    return None
