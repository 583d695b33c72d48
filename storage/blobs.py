"""Content-addressed evidence files: blobs/ab/cdef... by SHA-256, written once, never modified."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in the folder durable (the folder's entry, not the data)."""
    if os.name == "nt":  # Windows has no directory fsync; NTFS journals the rename
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_bytes(self, data: bytes, sha256: str | None = None) -> str:
        """Store the bytes (once) and return their SHA-256. Durable when this returns:
        temp file, fsync, rename, fsync of the folder."""
        digest = sha256 or hashlib.sha256(data).hexdigest()
        final = self.path(digest)
        if final.is_file():
            return digest
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(final.parent)
        return digest

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def verify(self, sha256: str) -> str | None:
        """None when the blob is present and intact, else what is wrong with it."""
        path = self.path(sha256)
        if not path.is_file():
            return "missing"
        if sha256_file(path) != sha256:
            return "corrupt (its bytes no longer match its SHA-256)"
        return None

    def all_hashes(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for f in sorted(sub.iterdir()):
                    if not f.name.startswith(".incoming-"):
                        yield sub.name + f.name

    def remove_leftovers(self, older_than_s: float = 3600) -> int:
        """Delete temp files left by an interrupted write (never referenced). Only old ones:
        a younger file may be a write in progress by another process on the same store."""
        count = 0
        if self.root.is_dir():
            cutoff = time.time() - older_than_s
            for tmp in self.root.glob("*/.incoming-*"):
                try:
                    if tmp.stat().st_mtime < cutoff:
                        tmp.unlink()
                        count += 1
                except FileNotFoundError:  # finished (renamed) meanwhile
                    pass
        return count
