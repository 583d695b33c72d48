"""The server's database: SQLite by default, PostgreSQL (postgresql+psycopg://) for coalitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from app.errors import KuaError

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "kua_server_version"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


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
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def upgrade(engine: Engine) -> None:
    """Bring the server's schema to the current version (creating it on first use)."""
    cfg = _config()
    with engine.connect() as conn:
        current = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()
        if current == head():
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


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
