"""Alembic environment of the team server's database (see app.server.db.upgrade)."""

from app.server.db import VERSION_TABLE
from app.server.models import ServerBase
from storage.db import run_migrations

run_migrations(ServerBase.metadata, "sqlite:///kua-server-dev.db", version_table=VERSION_TABLE)
