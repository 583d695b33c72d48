"""The server's tables (a database of its own, SQLite or PostgreSQL, with its own migrations)."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.models import NAMING_CONVENTION
from storage.timeutil import UTCDateTime, utcnow


class ServerBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_bundle_key() -> str:
    """32 random bytes (hex): the team's laptops MAC their USB bundles with it (HMAC-SHA256)."""
    return os.urandom(32).hex()


class Team(ServerBase):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # the team's revision counter
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Kept as it is, not hashed: the server hands it to each enrolled device of the team.
    bundle_key: Mapped[str] = mapped_column(String(64), default=new_bundle_key)


class Device(ServerBase):
    """A laptop of a team. It proves itself with a bearer token the server keeps only hashed."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    enrol_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enrol_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_device_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StoredRevision(ServerBase):
    """A revision as a device pushed it, numbered in its team's sequence."""

    __tablename__ = "stored_revision"
    __table_args__ = (
        Index("ix_stored_revision_team_seq", "team_id", "seq", unique=True),
        Index("ix_stored_revision_team_rev", "team_id", "rev_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    rev_id: Mapped[str] = mapped_column(String(36))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # the revision in the wire format
    pushed_by: Mapped[int] = mapped_column(ForeignKey("device.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredBlob(ServerBase):
    """An evidence file a team holds (its bytes are under the team's own blob folder)."""

    __tablename__ = "stored_blob"

    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("device.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
