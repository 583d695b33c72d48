"""Evidence import: photos hashed, checked and thumbnailed in parallel, stored once by SHA-256.

Order of writes makes a crash harmless: the blob is durable before the row that refers to it is
committed, and a file is reported as imported only after that commit. A crash can leave at most
an unreferenced blob (listed by verify_evidence), never a row without its file.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import photos
from app.errors import NotFound
from app.incidents import EvidenceView
from app.intake import Prepared, die_with_parent, prepare, write_thumbnail
from app.store import Store, describe_environment_error, is_environment_error
from storage.models import Evidence, Incident

# Extensions picked from a dropped folder (files named one by one are always tried).
PHOTO_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif"}
)
@dataclass(frozen=True)
class ImportOutcome:
    file: str
    ok: bool
    error: str | None = None
    evidence: EvidenceView | None = None
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        if not self.ok or self.evidence is None:
            return {"file": self.file, "ok": False, "error": self.error}
        ev = self.evidence
        return {
            "file": self.file,
            "ok": True,
            "evidence_id": ev.id,
            "sha256": ev.sha256,
            "taken_at": ev.taken_at,
            "gps": None if ev.gps is None else ev.gps.to_json(),
            "width": ev.width,
            "height": ev.height,
            "orientation": ev.orientation,
            "camera": ev.camera,
            "mime": ev.mime,
            "size": ev.size,
            "duplicate": self.duplicate,
            "unreadable": list(ev.unreadable),
        }


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders (recursively) contribute their photo files, hidden ones skipped."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                rel = child.relative_to(p).parts
                if (
                    child.is_file()
                    and child.suffix.lower() in PHOTO_EXTENSIONS
                    and not any(part.startswith(".") for part in rel)
                ):
                    out.append(child)
        else:
            out.append(p)
    return out


def thumbnail_file(store: Store, sha256: str) -> Path:
    """The cached thumbnail of a stored photo, rebuilt from the blob when the cache lost it."""
    dest = store.thumb_path(sha256)
    if dest.exists():
        return dest
    return write_thumbnail(store.thumbs, sha256, photos.thumbnail(store.blobs.read(sha256)))


def _executor(count: int, workers: int | None) -> Executor | None:
    # One worker more than cores: a worker waiting for its fsync would otherwise idle a core.
    workers = workers if workers is not None else min((os.cpu_count() or 1) + 1, count)
    if workers <= 1 or count <= 2:
        return None  # a pool's start-up costs more than it saves here
    # spawn: never fork a process that may have Qt and database threads running.
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
    )


def _prepared_stream(
    store: Store, files: Sequence[Path], workers: int | None, cancelled: Callable[[], bool]
) -> Iterable[Prepared]:
    args = (str(store.blobs.root), str(store.thumbs))
    pool = _executor(len(files), workers)
    if pool is None:
        for f in files:
            if cancelled():
                return
            yield prepare(str(f), *args)
        return
    with pool:
        futures: dict[Future[Prepared], Path] = {
            pool.submit(prepare, str(f), *args): f for f in files
        }
        try:
            for fut in as_completed(futures):
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    yield Prepared(
                        str(futures[fut]), error="the photo decoder crashed on this file"
                    )
                if cancelled():
                    break
        finally:
            for fut in futures:
                fut.cancel()


def prepare_files(
    store: Store,
    paths: Sequence[Path],
    cancelled: Callable[[], bool] = lambda: False,
    workers: int | None = None,
) -> Iterator[Prepared]:
    """Check and store the files (folders expanded) on all cores, yielding each as it is done.
    Nothing is attached to anything yet: see record()."""
    yield from _prepared_stream(store, expand_paths(paths), workers, cancelled)


def import_files(
    store: Store,
    incident_id: str,
    paths: Sequence[Path],
    progress: Callable[[int, int, ImportOutcome], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    workers: int | None = None,
) -> list[ImportOutcome]:
    """Attach photos to an incident. Each file gets its own outcome; a bad one never stops the
    rest. progress(done, total, outcome) is called after each file is committed (or refused)."""
    with store.db.read() as s:
        inc = s.scalars(select(Incident).where(Incident.id == incident_id)).first()
        if inc is None or inc.deleted:
            raise NotFound(f"incident {incident_id}: no such incident")
    files = expand_paths(paths)
    outcomes: list[ImportOutcome] = []
    for prepared in _prepared_stream(store, files, workers, cancelled):
        outcome = record(store, incident_id, prepared)
        outcomes.append(outcome)
        if progress is not None:
            progress(len(outcomes), len(files), outcome)
    return outcomes


def record(store: Store, incident_id: str, p: Prepared) -> ImportOutcome:
    """Attach one prepared file to the incident, in its own transaction."""
    return _attach(store, p, incident_id=incident_id)


def attach_to_protocol(store: Store, protocol_id: str, p: Prepared) -> ImportOutcome:
    """Attach one prepared file (a photo of the protocol) to a protocol, in its own transaction."""
    return _attach(store, p, protocol_id=protocol_id)


def _attach(
    store: Store, p: Prepared, incident_id: str | None = None, protocol_id: str | None = None
) -> ImportOutcome:
    name = Path(p.path).name
    if p.error is not None or p.info is None:
        return ImportOutcome(p.path, False, error=f"{name}: {p.error}")
    info = p.info
    try:
        with store.db.write() as s:
            same = s.scalars(
                select(Evidence).where(Evidence.sha256 == p.sha256, Evidence.deleted.is_(False))
            ).all()
            for ev in same:
                if ev.incident_id == incident_id and ev.protocol_id == protocol_id:
                    return ImportOutcome(p.path, True, evidence=EvidenceView.of(ev), duplicate=True)
            ev = Evidence(
                incident_id=incident_id,
                protocol_id=protocol_id,
                sha256=p.sha256,
                original_name=name,
                mime=info.mime,
                size=p.size,
                width=info.width,
                height=info.height,
                taken_at=info.taken_at,
                gps_lat=None if info.gps is None else info.gps.lat,
                gps_lon=None if info.gps is None else info.gps.lon,
                gps_alt=None if info.gps is None else info.gps.alt,
                camera=info.camera,
                orientation=info.orientation,
                unreadable=list(info.unreadable),
            )
            s.add(ev)
            s.flush()
            view = EvidenceView.of(ev)
    except Exception as exc:
        if not is_environment_error(exc):  # a bug: let it surface with its traceback
            raise
        return ImportOutcome(p.path, False, error=f"{name}: {describe_environment_error(exc)}")
    return ImportOutcome(p.path, True, evidence=view, duplicate=bool(same))


def detach_evidence(store: Store, evidence_id: str, detached: bool = True) -> EvidenceView:
    """Detach evidence from its incident (a tombstone; the file stays stored), or undo that."""
    with store.db.write() as s:
        ev = s.get(Evidence, evidence_id)
        if ev is None:
            raise NotFound(f"evidence {evidence_id}: no such evidence")
        ev.deleted = detached
        s.flush()
        return EvidenceView.of(ev)


@dataclass(frozen=True)
class BlobProblem:
    sha256: str
    problem: str
    files: tuple[str, ...]  # original names of the evidence that rests on it


@dataclass(frozen=True)
class EvidenceReport:
    checked: int
    problems: tuple[BlobProblem, ...]
    unreferenced: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "problems": [
                {"sha256": p.sha256, "problem": p.problem, "files": list(p.files)}
                for p in self.problems
            ],
            "unreferenced": list(self.unreferenced),
        }


def verify_evidence(
    store: Store, progress: Callable[[int, int], None] | None = None
) -> EvidenceReport:
    """Re-hash every stored file that evidence rests on; list the missing and corrupt ones."""
    with store.db.read() as s:
        names: dict[str, list[str]] = {}
        for sha, name in s.execute(select(Evidence.sha256, Evidence.original_name)):
            names.setdefault(sha, []).append(name)
    problems = []
    for n, sha in enumerate(sorted(names), 1):
        issue = store.blobs.verify(sha)
        if issue is not None:
            problems.append(BlobProblem(sha, issue, tuple(sorted(set(names[sha])))))
        if progress is not None:
            progress(n, len(names))
    unreferenced = tuple(h for h in store.blobs.all_hashes() if h not in names)
    return EvidenceReport(len(names), tuple(problems), unreferenced)
