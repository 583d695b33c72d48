"""Durable file writes: a file appears whole under its name, or not at all (a crash or an error
leaves the old file, never a cut-short one, and no temp file behind)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in the folder durable (the folder's entry, not the data)."""
    if os.name == "nt":  # Windows has no directory fsync; NTFS journals the rename
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(dest: Path, mode: int | None = None) -> Iterator[IO[bytes]]:
    """A file object (w+b) that becomes dest only if the block completes: a temp file beside
    dest, fsynced, given mode (else mkstemp's owner-only 0o600), renamed over dest, and the
    rename fsynced. The temp file is created before the block: an unwritable folder raises
    OSError on entry."""
    folder = dest.parent if str(dest.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)  # before the rename: dest never has looser permissions
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(folder)


def write_atomic(dest: Path, data: bytes, mode: int | None = None) -> None:
    """Write data to dest as atomic_file does (mode None: owner-only 0o600)."""
    with atomic_file(dest, mode) as f:
        f.write(data)
