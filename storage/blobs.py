"""Content-addressed evidence files: blobs/ab/cdef... by SHA-256, written once, never modified."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from storage.files import fsync_dir

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class BlobMismatch(ValueError):
    """A file's bytes do not match the SHA-256 it was to be stored under."""


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

    def temp_file(self, sha256: str) -> Path:
        """A new empty file beside where blob sha256 goes, to write it out and then adopt it
        (a rename in the same folder). Not a blob until adopted; remove_leftovers deletes it if
        a crash leaves it behind."""
        folder = self.path(sha256).parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
        os.close(fd)
        return Path(tmp)

    def adopt(self, path: Path, sha256: str) -> None:
        """Move a finished file into the store as the blob sha256, without reading it into
        memory or writing its bytes again (evidence files reach gigabytes). path must be on the
        store's filesystem (a rename). The file is gone afterwards either way: stored, dropped
        (the blob was there already), or, when its bytes do not match sha256, deleted and
        BlobMismatch raised. Durable when this returns, like put_bytes."""
        final = self.path(sha256)
        try:
            if sha256_file(path) != sha256:
                raise BlobMismatch(f"{path.name}: its bytes do not match SHA-256 {sha256}")
            if final.is_file():
                path.unlink()
                return
            fd = os.open(path, os.O_RDWR)  # the data on disk before its name is (a power cut)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o444)  # read-only, as put_bytes leaves a blob
            os.replace(path, final)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        fsync_dir(final.parent)

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
