"""One user's store: the database, the evidence files and the thumbnail cache in one data folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session

from app.errors import KuaError, describe_os_error
from app.paths import DB_NAME
from storage.blobs import BlobStore
from storage.db import Database
from storage.models import Setting


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.db = Database(data_dir / DB_NAME)
        except (OSError, DatabaseError, sqlite3.Error) as exc:
            raise KuaError(describe_environment_error(exc, data_dir)) from exc
        self.blobs = BlobStore(data_dir / "blobs")
        self.thumbs = data_dir / "cache" / "thumbs"  # rebuildable, never synced
        self.blobs.remove_leftovers()

    @property
    def db_path(self) -> Path:
        return self.db.path

    def thumb_path(self, sha256: str) -> Path:
        return self.thumbs / sha256[:2] / f"{sha256[2:]}.jpg"

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_setting(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(Setting, key)
    return default if row is None else row.value


def set_setting(session: Session, key: str, value: Any) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def all_settings(session: Session) -> dict[str, Any]:
    return {row.key: row.value for row in session.scalars(select(Setting))}


def describe_environment_error(exc: BaseException, where: Path | None = None) -> str:
    """Turn disk-full, locked, read-only and permission errors into words a team lead can act on."""
    if isinstance(exc, OSError):
        return describe_os_error(exc, where)
    text = str(exc)
    place = f" ({where})" if where else ""
    low = text.lower()
    if "locked" in low or "busy" in low:
        return (
            "The database is busy (another Kuä window or program is writing to it). "
            "Try again in a moment."
        )
    if "readonly" in low or "read-only" in low:
        return f"The database is read-only{place}: check the folder's permissions."
    if "disk is full" in low or "full" in low:
        return f"The disk is full{place}: free some space and try again. Nothing was lost."
    if "not a database" in low or "malformed" in low:
        return f"The database file is damaged or not a Kuä database{place}."
    return f"Database error{place}: {text.splitlines()[0] if text else type(exc).__name__}"


def is_environment_error(exc: BaseException) -> bool:
    # A damaged file is a bare DatabaseError; its subclasses (IntegrityError, ...) are our bugs.
    if type(exc) in (DatabaseError, sqlite3.DatabaseError):
        return True
    return isinstance(exc, OSError | OperationalError | sqlite3.OperationalError)
