"""Alembic environment of the team server's database (see app.server.db.upgrade)."""

from alembic import context
from sqlalchemy import create_engine

from app.server.models import ServerBase

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line, for developers writing a new migration
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///kua-server-dev.db"
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=ServerBase.metadata,
    render_as_batch=True,
    version_table="kua_server_version",
)
with context.begin_transaction():
    context.run_migrations()
