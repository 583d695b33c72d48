"""Ready-made copies of a team's records for laptops that join with nothing yet.

The server keeps, per team, a replica: a laptop database that pulls the team's revisions
through the same merge as every laptop. Once the team's sequence has moved on by STEP
revisions, the replica is copied (VACUUM INTO) and published by its SHA-256. An empty laptop
downloads that copy and takes its rows as they are, then pulls the few revisions after it
(app/sync/snapshot.py): a first sync of a big team costs a download and a table copy instead
of merging a hundred thousand revisions one page at a time.

Built in a background thread of the server process; a failed build only leaves the previous
snapshot (or none) in place, and laptops then pull page by page as before."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from sqlalchemy import Engine, Text, cast, select
from sqlalchemy.orm import Session

from app.server.models import StoredRevision, Team
from app.store import get_setting, set_setting
from app.sync.merge import MERGE_VERSION, apply_revisions
from app.sync.wire import SHA256_RE, WireRevision
from storage.db import Database, head_revision
from storage.files import write_atomic

log = logging.getLogger("kua.server.snapshots")

STEP = 1000
"""Revisions a team's published snapshot may lag behind before the next one is made (a
joining laptop pulls those on top of it)."""
PAGE = 8000  # revisions the replica applies per transaction
INTERVAL_S = 60.0  # the builder also looks without being woken by a push
SUFFIX = ".sqlite.zlib"
"""A published snapshot is the database compressed with zlib: a sixth of its size (a slow link
then brings it faster than the revisions it holds)."""
CURSOR = "replica_cursor"
MERGE = "replica_merge"  # the MERGE_VERSION the replica's records were merged by
PAGES = "replica_pages"  # bytes its revisions take as compressed pull pages (an estimate)


@dataclass(frozen=True)
class SnapshotInfo:
    seq: int  # the team's sequence number the snapshot covers (its revisions up to it)
    sha256: str  # of the database...
    size: int  # ...and its bytes
    packed: int  # the bytes of the published (compressed) file
    pages: int  # about the bytes of the same revisions as compressed pull pages
    schema: str  # the laptop database's migration it was made with
    merge: int  # ...and the merge (MERGE_VERSION)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @property
    def fresh(self) -> bool:
        """Made by this version's schema and merge (else it is made anew)."""
        return self.schema == head_revision() and self.merge == MERGE_VERSION


class Snapshots:
    """The teams' replicas and published snapshots under one folder."""

    def __init__(self, engine: Engine, folder: Path, step: int = STEP) -> None:
        self.engine, self.folder, self.step = engine, folder, step
        self._build = threading.Lock()  # one build at a time
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    # --- what is published ---------------------------------------------------------------

    def _meta(self, team_id: int) -> Path:
        return self.folder / f"team-{team_id}.json"

    def path(self, team_id: int, sha256: str) -> Path | None:
        """The published file with this hash, if it is still kept."""
        if not SHA256_RE.match(sha256):
            return None
        path = self.folder / f"team-{team_id}-{sha256}{SUFFIX}"
        return path if path.is_file() else None

    def current(self, team_id: int) -> SnapshotInfo | None:
        try:
            meta = json.loads(self._meta(team_id).read_text(encoding="utf-8"))
            info = SnapshotInfo(**meta)
            path = self.path(team_id, info.sha256)
            # (a file cut short by a crash is not offered, and is made anew)
            return info if path is not None and path.stat().st_size == info.packed else None
        except (OSError, ValueError, TypeError):
            return None

    # --- building ------------------------------------------------------------------------

    def due(self) -> list[int]:
        """The teams whose snapshot lags STEP revisions or more behind their sequence."""
        with Session(self.engine) as s:
            teams = s.execute(select(Team.id, Team.last_seq)).all()
        out = []
        for team_id, last in teams:
            info = self.current(team_id)
            covered = info.seq if info is not None and info.fresh else 0
            # (ahead of the team: the server's database was restored from a backup)
            if last - covered >= self.step or covered > last:
                out.append(team_id)
        return out

    def refresh(self, team_id: int) -> SnapshotInfo | None:
        """Bring the team's replica up to its newest revision and publish it (if it moved)."""
        with self._build:
            self.folder.mkdir(parents=True, exist_ok=True)
            replica = self._replica(team_id)
            try:
                seq, pages = self._catch_up(team_id, replica)
                info = self.current(team_id)
                if self._stop.is_set() or (info is not None and info.seq == seq and info.fresh):
                    return info
                return self._publish(team_id, replica, seq, pages, info)
            finally:
                replica.close()

    def _replica(self, team_id: int) -> Database:
        """The team's replica; merged anew from the first revision if another merge made it,
        or if it is ahead of the team's sequence (the server's database was restored from a
        backup: what it had beyond is numbered anew)."""
        folder = self.folder / f"team-{team_id}.replica"
        replica = Database(folder / "kua.db")
        with Session(self.engine) as s:
            last = s.scalar(select(Team.last_seq).where(Team.id == team_id)) or 0
        with replica.read() as s:
            merge = get_setting(s, MERGE, MERGE_VERSION)
            cursor = int(get_setting(s, CURSOR, 0))
        if merge == MERGE_VERSION and cursor <= last:
            return replica
        replica.close()
        shutil.rmtree(folder)
        return Database(folder / "kua.db")

    def _catch_up(self, team_id: int, replica: Database) -> tuple[int, int]:
        """Apply the team's revisions after the replica's cursor, page by page, exactly as a
        laptop's pull does (the cursor moves with each page). Returns the cursor, and the
        bytes its revisions take as pull pages (PAGES)."""
        with replica.read() as s:
            cursor = int(get_setting(s, CURSOR, 0))
            pages = int(get_setting(s, PAGES, 0))
        while not self._stop.is_set():
            with Session(self.engine) as s:
                rows = s.execute(
                    select(StoredRevision.seq, cast(StoredRevision.body, Text))
                    .where(StoredRevision.team_id == team_id, StoredRevision.seq > cursor)
                    .order_by(StoredRevision.seq)
                    .limit(PAGE)
                ).all()
            if not rows:
                break
            revs = [WireRevision.from_json(orjson.loads(body)) for _, body in rows]
            seqs = {rev.rev_id: seq for rev, (seq, _) in zip(revs, rows, strict=True)}
            # What these would weigh as a pull page, compressed as the server sends one.
            pages += len(gzip.compress(",".join(body for _, body in rows).encode(), 1))
            with replica.write(durable=False) as s:  # a lost page is applied again
                apply_revisions(s, revs, seqs)
                set_setting(s, CURSOR, rows[-1].seq)
                set_setting(s, MERGE, MERGE_VERSION)
                set_setting(s, PAGES, pages)
            cursor = rows[-1].seq
        return cursor, pages

    def _publish(
        self,
        team_id: int,
        replica: Database,
        seq: int,
        pages: int,
        previous: SnapshotInfo | None,
    ) -> SnapshotInfo:
        """A compact copy of the replica (caught up to seq; pages: _catch_up's), compressed,
        under its hash; then the pointer to it. The snapshot before it (previous, the current
        one) stays: a laptop may be downloading it. Older ones go."""
        tmp = self.folder / f".team-{team_id}.tmp"
        packed = tmp.with_suffix(".zlib")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(replica.path)
        try:
            conn.execute("VACUUM INTO ?", (str(tmp),))
        finally:
            conn.close()
        digest, deflate = hashlib.sha256(), zlib.compressobj(6)
        with open(tmp, "rb") as src, open(packed, "wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(deflate.compress(chunk))
            out.write(deflate.flush())
            out.flush()
            os.fsync(out.fileno())  # on disk before the pointer to it is
        info = SnapshotInfo(
            seq,
            digest.hexdigest(),
            tmp.stat().st_size,
            packed.stat().st_size,
            pages,
            head_revision(),
            MERGE_VERSION,
        )
        tmp.unlink()
        os.replace(packed, self.folder / f"team-{team_id}-{info.sha256}{SUFFIX}")
        # The pointer last, atomically (fsynced, the folder too: both renames are durable).
        write_atomic(self._meta(team_id), json.dumps(info.to_json()).encode("utf-8"), 0o644)
        keep = {info.sha256, previous.sha256 if previous else ""}
        for old in self.folder.glob(f"team-{team_id}-*{SUFFIX}"):
            if old.name.removeprefix(f"team-{team_id}-").removesuffix(SUFFIX) not in keep:
                old.unlink(missing_ok=True)
        log.info("team %s: snapshot at seq %s published (%s bytes)", team_id, seq, info.packed)
        return info

    # --- the background builder ------------------------------------------------------------

    def poke(self) -> None:
        """Revisions arrived: look whether a team's snapshot is due."""
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kua-snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for team_id in self.due():
                    if self._stop.is_set():
                        break
                    self.refresh(team_id)
            except Exception:  # a bad build must not stop the server; laptops pull pages
                log.exception("building a team snapshot failed")
            self._wake.wait(INTERVAL_S)
            self._wake.clear()
