"""The part of evidence import that runs in worker processes: read, check and store one file.

Kept apart from app.evidence so a worker imports only Pillow and the blob store, not the
database layer: each spawned worker starts in a fraction of the time.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from app import photos
from app.errors import describe_os_error
from storage.blobs import BlobStore

MAX_FILE_BYTES = 200 * 1024 * 1024  # larger is not a photo; refusing keeps memory bounded


@dataclass(frozen=True)
class Prepared:
    """What a worker learned about one file; plain data so it crosses process boundaries."""

    path: str
    sha256: str = ""
    size: int = 0
    info: photos.PhotoInfo | None = None
    error: str | None = None


def prepare(path: str, blob_root: str, thumb_root: str) -> Prepared:
    """Read, check and store one file. Never raises for bad input."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            return Prepared(path, size=size, error=f"too large for a photo ({size // 2**20} MB)")
        data = p.read_bytes()
    except FileNotFoundError:
        return Prepared(path, error="file not found")
    except IsADirectoryError:
        return Prepared(path, error="is a folder, not a file")
    except OSError as exc:
        return Prepared(path, error=f"cannot read the file ({exc.strerror or exc})")
    sha = hashlib.sha256(data).hexdigest()
    try:
        info, thumb = photos.analyze(data)
    except photos.PhotoError as exc:
        return Prepared(path, sha, len(data), error=str(exc))
    try:
        BlobStore(Path(blob_root)).put_bytes(data, sha)
        write_thumbnail(Path(thumb_root), sha, thumb)
    except OSError as exc:
        return Prepared(path, sha, len(data), error=describe_os_error(exc))
    return Prepared(path, sha, len(data), info)


def write_thumbnail(root: Path, sha: str, thumb: bytes) -> Path:
    dest = root / sha[:2] / f"{sha[2:]}.jpg"
    if dest.exists():
        return dest
    if not dest.parent.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(thumb)
    os.replace(tmp, dest)
    return dest


def die_with_parent() -> None:
    """Pool initializer: end this worker when the process that started it dies (even by
    kill -9), so no orphan goes on writing into the store after the app is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="kua-parent-watch").start()
