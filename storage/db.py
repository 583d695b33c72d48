"""Opening the local database: SQLite in WAL mode, migrated to the current schema on open."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

import storage.revisions  # noqa: F401  (registers the revision/audit hook on every Session)

MIGRATIONS = Path(__file__).parent / "migrations"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate's view of the schema: the full-text index is made by hand in a migration."""
    return not (type_ == "table" and (name or "").startswith("incident_fts"))


def alembic_config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def alembic_head(script_location: Path) -> str:
    head = ScriptDirectory.from_config(alembic_config(script_location)).get_current_head()
    assert head is not None
    return head


def alembic_upgrade(conn: Connection, script_location: Path, target: str = "head") -> None:
    """Run the migrations of script_location on conn (their env.py uses it), then commit.
    On SQLite, foreign keys are off meanwhile, as SQLite advises: a batch migration rebuilds a
    table (copy, drop, rename), and dropping it would trip the rows that refer to it."""
    cfg = alembic_config(script_location)
    cfg.attributes["connection"] = conn
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        if conn.in_transaction():
            conn.commit()
        # On the driver's connection, outside any transaction: inside one it does nothing.
        conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        command.upgrade(cfg, target)
        conn.commit()
    except BaseException:
        conn.invalidate()  # never back to the pool with its keys off
        raise
    if sqlite:
        conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def run_migrations(metadata: MetaData, dev_url: str, **options: Any) -> None:
    """The body of an Alembic env.py: migrate the connection handed over in the config's
    attributes, or, from the `alembic` command line, the database at sqlalchemy.url (dev_url
    by default) for developers writing a new migration."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url") or dev_url
        connection = create_engine(url).connect()
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, **options
    )
    with context.begin_transaction():
        context.run_migrations()


def set_sqlite_pragmas(dbapi_conn: Any) -> None:
    """WAL, durable commits, foreign keys, and waiting for a lock instead of failing."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk when it returns. An import reported as done must survive a
    # power cut; NORMAL in WAL mode could lose the last commits (it stays consistent, though).
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def head_revision() -> str:
    return alembic_head(MIGRATIONS)


_RELAXED = "kua_relaxed_sync"


def create_sqlite_engine(path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": 30},
        # Readable JSON in the file (and Cyrillic names visible to the full-text index).
        json_serializer=lambda obj: json.dumps(obj, ensure_ascii=False),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Transactions are begun by hand below (pysqlite's own BEGIN handling is unreliable).
        dbapi_conn.isolation_level = None
        set_sqlite_pragmas(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if not options.get("kua_durable", True):
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            conn.connection.info[_RELAXED] = True
        # Writers take the write lock up front, so two writers queue instead of failing halfway.
        immediate = options.get("kua_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        if record.info.pop(_RELAXED, False):
            dbapi_conn.execute("PRAGMA synchronous=FULL")

    return engine


def current_revision(engine: Engine, version_table: str = "alembic_version") -> str | None:
    """The migration the database is at (None: none yet), as kept in version_table (the team
    server keeps its own, app/server/db.py)."""
    with engine.connect() as conn:
        opts = {"version_table": version_table}
        return MigrationContext.configure(conn, opts=opts).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    with engine.connect() as conn:
        alembic_upgrade(conn, MIGRATIONS, target)


def backup(path: Path, dest: Path) -> None:
    """A consistent copy of a live database (SQLite's online backup, WAL included)."""
    src = sqlite3.connect(path)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def open_database(path: Path) -> Engine:
    """Open (creating or upgrading) the database at path. Before upgrading an existing database
    its current file is copied aside, so a failed or buggy migration never costs the user data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists() and path.stat().st_size > 0
    engine = create_sqlite_engine(path)
    current = current_revision(engine)
    if current != head_revision():
        if existed:
            saved = path.with_name(f"{path.name}.before-{head_revision()}")
            if not saved.exists():
                backup(path, saved)
        upgrade(engine)
    return engine


class Database:
    """The engine, and a session per user action: read() for queries, write() for changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = open_database(path)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(kua_write=True), expire_on_commit=False
        )
        self._write_relaxed = sessionmaker(
            self.engine.execution_options(kua_write=True, kua_durable=False),
            expire_on_commit=False,
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[Session]:
        """A transaction holding the write lock; committed on success, rolled back on error.
        durable=False: the commit may be lost to a power cut (never half of it, and never ahead
        of a later durable commit) -- for writes that can simply be done again, like a pulled
        page, whose fsync would otherwise cost more than the page."""
        maker = self._write if durable else self._write_relaxed
        with maker() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
