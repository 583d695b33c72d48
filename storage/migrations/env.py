"""Alembic environment: runs on the connection the app hands over (see storage.db.upgrade)."""

from storage.db import include_name, run_migrations
from storage.models import Base

run_migrations(Base.metadata, "sqlite:///kua-dev.db", include_name=include_name)
