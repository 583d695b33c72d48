"""Errors a user can act on. Their text is shown as is (CLI: one line on stderr; app: a message)."""

from __future__ import annotations

import errno
from pathlib import Path


class KuaError(Exception):
    """Bad input or an environment problem, explained in the user's terms."""


class NotFound(KuaError):
    pass


class InvalidInput(KuaError):
    pass


def describe_os_error(exc: OSError, where: Path | None = None) -> str:
    place = f" ({where})" if where else ""
    if exc.errno == errno.ENOSPC:
        return f"The disk is full{place}: free some space and try again. Nothing was lost."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"No permission to write{place}: choose another data folder or fix its rights."
    return f"Cannot use the data folder{place}: {exc.strerror or exc}"
