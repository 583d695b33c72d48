"""The server's database: SQLite by default, PostgreSQL (postgresql+psycopg://) for coalitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from app.errors import KuaError
from storage.db import alembic_head, alembic_upgrade, current_revision, set_sqlite_pragmas

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "kua_server_version"


def head() -> str:
    return alembic_head(MIGRATIONS)


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise KuaError(f"--db {url}: not a database URL this server can use ({exc})") from exc
    except ImportError as exc:  # e.g. PostgreSQL without the [postgres] extra installed
        raise KuaError(f"--db {url}: its driver is not installed ({exc.name})") from exc
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            set_sqlite_pragmas(dbapi_conn)

    return engine


def upgrade(engine: Engine) -> None:
    """Bring the server's schema to the current version (creating it on first use)."""
    if current_revision(engine, VERSION_TABLE) == head():
        return
    with engine.connect() as conn:
        alembic_upgrade(conn, MIGRATIONS)


def open_server_db(url: str) -> Engine:
    engine = make_engine(url)
    try:
        upgrade(engine)
    except Exception as exc:
        engine.dispose()
        if isinstance(exc, KuaError):
            raise
        raise KuaError(
            f"--db: cannot open the server database: {str(exc).splitlines()[0]}"
        ) from exc
    return engine
