"""Alembic environment: runs on the connection the app hands over (see storage.db.upgrade)."""

from alembic import context
from sqlalchemy import create_engine

from storage.db import include_name
from storage.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line, for developers writing a new migration
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///kua-dev.db"
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
