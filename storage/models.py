"""The local store's tables (SQLAlchemy 2). Every synced record has a UUIDv7 id, created/updated
times, a tombstone flag instead of hard deletion, and the id of its latest revision."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.ids import uuid7
from storage.timeutil import UTCDateTime, utcnow

UUID = String(36)


# Named constraints, so later migrations can alter them (SQLite batch mode needs the names).
# The server's tables (app/server/models.py) use the same convention.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Synced:
    """Columns every synced record carries; changes to them write revisions (storage.revisions)."""

    id: Mapped[str] = mapped_column(UUID, primary_key=True, default=uuid7)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    rev: Mapped[str | None] = mapped_column(UUID)

    # Columns that describe the row's bookkeeping rather than the user's data.
    BOOKKEEPING = frozenset({"created_at", "updated_at", "rev", "num"})
    # Sync merges field by field unless a model says its fields only make sense together.
    MERGE_AS_UNIT: ClassVar[bool] = False
    # What makes two copies' records the same record (a station's code within its election).
    # Fixed at creation: sync recognises twins from their creations alone, so whether two
    # records are one never depends on the order edits arrive in.
    NATURAL_KEY: ClassVar[tuple[str, ...]] = ()


class Election(Synced, Base):
    __tablename__ = "election"
    __table_args__ = (UniqueConstraint("name", "date"),)
    NATURAL_KEY = ("name", "date")

    name: Mapped[str] = mapped_column(String(200))
    date: Mapped[str] = mapped_column(String(10))  # ISO date: an election day has no time zone
    kind: Mapped[str] = mapped_column(String(40), default="presidential")
    country_profile: Mapped[str] = mapped_column(String(40), default="kz-presidential")


class Candidate(Synced, Base):
    __tablename__ = "candidate"

    election_id: Mapped[str] = mapped_column(ForeignKey("election.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    party: Mapped[str | None] = mapped_column(String(200))
    ballot_order: Mapped[int] = mapped_column(Integer)


class Station(Synced, Base):
    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("election_id", "code"),)
    NATURAL_KEY = ("election_id", "code")

    election_id: Mapped[str] = mapped_column(ForeignKey("election.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(300))
    region: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    commission: Mapped[str | None] = mapped_column(String(300))
    registered_voters: Mapped[int | None] = mapped_column(Integer)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class Observer(Synced, Base):
    __tablename__ = "observer"

    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    organization: Mapped[str | None] = mapped_column(String(200))
    accreditation: Mapped[str | None] = mapped_column(String(200))


class ObserverStation(Synced, Base):
    """An observer's assignment to a station (a record of its own so assignments sync)."""

    __tablename__ = "observer_station"
    __table_args__ = (UniqueConstraint("observer_id", "station_id"),)

    observer_id: Mapped[str] = mapped_column(ForeignKey("observer.id"))
    station_id: Mapped[str] = mapped_column(ForeignKey("station.id"), index=True)


class Incident(Synced, Base):
    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_observed", "deleted", "observed_at"),
        Index("ix_incident_station", "station_id", "observed_at"),
    )

    # An explicit integer key: the full-text index refers to it, and SQLite keeps it stable
    # across VACUUM (an implicit rowid may be renumbered). Local only; sync uses `id`.
    num: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(UUID, unique=True, default=uuid7)
    station_id: Mapped[str] = mapped_column(ForeignKey("station.id"))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    observed_tz: Mapped[int] = mapped_column(Integer, default=0)  # minutes east of UTC
    reporter: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(60), index=True)
    severity: Mapped[str] = mapped_column(String(20), default="minor")
    status: Mapped[str] = mapped_column(String(20), default="new")
    description: Mapped[str] = mapped_column(Text, default="")
    witnesses: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_refs: Mapped[str | None] = mapped_column(Text)

    station: Mapped[Station] = relationship(lazy="joined", innerjoin=True)
    evidence: Mapped[list[Evidence]] = relationship(
        primaryjoin="and_(Incident.id == foreign(Evidence.incident_id), Evidence.deleted == False)",
        order_by="Evidence.created_at",
        viewonly=True,
    )


class Protocol(Synced, Base):
    __tablename__ = "protocol"
    # Sync merges a protocol as one unit: its figures must add up, so two people's edits are
    # never mixed line by line. Every revision of a protocol carries all its fields.
    MERGE_AS_UNIT: ClassVar[bool] = True
    NATURAL_KEY = ("station_id", "source")

    station_id: Mapped[str] = mapped_column(ForeignKey("station.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # observer, posted, official
    profile: Mapped[str | None] = mapped_column(String(40))
    lines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    candidate_votes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entered_by: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Evidence(Synced, Base):
    """A file attached to an incident or a protocol; its bytes are in the blob store by sha256."""

    __tablename__ = "evidence"

    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incident.id"), index=True)
    protocol_id: Mapped[str | None] = mapped_column(ForeignKey("protocol.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_name: Mapped[str] = mapped_column(String(500))
    mime: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[str | None] = mapped_column(String(40))  # as the camera wrote it, ISO 8601
    gps_lat: Mapped[float | None] = mapped_column(Float)
    gps_lon: Mapped[float | None] = mapped_column(Float)
    gps_alt: Mapped[float | None] = mapped_column(Float)
    camera: Mapped[str | None] = mapped_column(String(200))
    orientation: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    unreadable: Mapped[list[str]] = mapped_column(JSON, default=list)


class Complaint(Synced, Base):
    __tablename__ = "complaint"

    incident_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    addressee: Mapped[str] = mapped_column(Text, default="")
    applicant: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(5), default="ru")
    request: Mapped[str] = mapped_column(Text, default="")
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    signer_fingerprint: Mapped[str | None] = mapped_column(String(128))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)


class Category(Synced, Base):
    """A team's own incident category, beside the default taxonomy shipped as data."""

    __tablename__ = "category"

    key: Mapped[str] = mapped_column(String(60), unique=True)
    label_ru: Mapped[str] = mapped_column(String(200))
    label_kk: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))


class Revision(Base):
    """One change to one record, written in the same transaction as the change. Rows with no
    server_seq are the outbox: the revisions the team server has not acknowledged yet."""

    __tablename__ = "revision"
    __table_args__ = (Index("ix_revision_record", "entity", "record_id"),)

    rev_id: Mapped[str] = mapped_column(UUID, primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(UUID)
    op: Mapped[str] = mapped_column(String(10))  # create, update, delete, restore
    parents: Mapped[list[str]] = mapped_column(JSON, default=list)
    device_id: Mapped[str] = mapped_column(UUID)
    # 13-digit ms, 5-digit counter, device UUID: 56 characters (storage.revisions.next_hlc)
    hlc: Mapped[str] = mapped_column(String(64), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    server_seq: Mapped[int | None] = mapped_column(Integer, index=True)


class RecordHeads(Base):
    """A record whose revisions have more than one head (concurrent edits merged by sync). The
    next local edit names all of them as parents, so it follows everything this copy has seen."""

    __tablename__ = "record_heads"

    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(UUID, primary_key=True)
    heads: Mapped[list[str]] = mapped_column(JSON, default=list)


class RecordAlias(Base):
    """A duplicate of a record with the same natural key (a station imported on two laptops):
    its revisions count as the canonical record's, and references to it are rewritten."""

    __tablename__ = "record_alias"

    entity: Mapped[str] = mapped_column(String(40), primary_key=True)
    alias_id: Mapped[str] = mapped_column(UUID, primary_key=True)
    canonical_id: Mapped[str] = mapped_column(UUID, index=True)


class SyncConflict(Base):
    """The same field changed concurrently on two copies: every candidate value is kept and a
    provisional winner shown until a person decides. Derived from the revisions, so every copy
    with the same revisions lists the same conflicts under the same ids."""

    __tablename__ = "sync_conflict"
    __table_args__ = (Index("ix_sync_conflict_record", "entity", "record_id"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(UUID)
    field: Mapped[str] = mapped_column(String(60))  # a column, "deleted", or "*" (whole record)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    winner_rev: Mapped[str] = mapped_column(UUID)
    opened_hlc: Mapped[str] = mapped_column(String(80))


class SyncedBlob(Base):
    """An evidence file the team server is known to hold (so it is not offered again)."""

    __tablename__ = "synced_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditEvent(Base):
    """Append-only, hash-chained log of every change and export (see storage.audit)."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(27))
    device_id: Mapped[str] = mapped_column(UUID)
    action: Mapped[str] = mapped_column(String(20))
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(UUID)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Setting(Base):
    """Local, never-synced settings of this copy: device id, current election, applicant profile."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


SYNCED_MODELS: tuple[type[Synced], ...] = (
    Election,
    Candidate,
    Station,
    Observer,
    ObserverStation,
    Incident,
    Protocol,
    Evidence,
    Complaint,
    Category,
)
