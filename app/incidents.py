"""Incidents: log, edit, find, delete (as a tombstone) and restore."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, func, select, text
from sqlalchemy.orm import Session

from app import taxonomy
from app.elections import current_election, station_by_code
from app.errors import InvalidInput, NotFound
from app.store import Store
from storage.models import Evidence, Incident, Station
from storage.timeutil import offset_minutes, with_offset


@dataclass(frozen=True)
class Gps:
    lat: float
    lon: float
    alt: float | None

    def to_json(self) -> dict[str, float | None]:
        return {"lat": self.lat, "lon": self.lon, "alt": self.alt}


@dataclass(frozen=True)
class EvidenceView:
    id: str
    incident_id: str | None
    sha256: str
    original_name: str
    mime: str
    size: int
    width: int | None
    height: int | None
    taken_at: str | None
    gps: Gps | None
    camera: str | None
    orientation: int | None
    note: str | None
    unreadable: tuple[str, ...]

    @staticmethod
    def of(e: Evidence) -> EvidenceView:
        gps = (
            None if e.gps_lat is None or e.gps_lon is None else Gps(e.gps_lat, e.gps_lon, e.gps_alt)
        )
        return EvidenceView(
            e.id,
            e.incident_id,
            e.sha256,
            e.original_name,
            e.mime,
            e.size,
            e.width,
            e.height,
            e.taken_at,
            gps,
            e.camera,
            e.orientation,
            e.note,
            tuple(e.unreadable or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "file": self.original_name,
            "mime": self.mime,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "taken_at": self.taken_at,
            "gps": None if self.gps is None else self.gps.to_json(),
            "camera": self.camera,
            "orientation": self.orientation,
            "note": self.note,
            "unreadable": list(self.unreadable),
        }


@dataclass(frozen=True)
class IncidentView:
    id: str
    num: int
    station_id: str
    station_code: str
    station_name: str
    observed_at: datetime  # aware, in the offset it was logged with
    category: str
    severity: str
    status: str
    description: str
    witnesses: tuple[str, ...]
    reporter: str | None
    legal_refs: str | None
    deleted: bool
    created_at: datetime
    updated_at: datetime
    evidence: tuple[EvidenceView, ...] = ()

    @staticmethod
    def of(i: Incident, evidence: Sequence[Evidence] = ()) -> IncidentView:
        return IncidentView(
            id=i.id,
            num=i.num,
            station_id=i.station_id,
            station_code=i.station.code,
            station_name=i.station.name,
            observed_at=with_offset(i.observed_at, i.observed_tz),
            category=i.category,
            severity=i.severity,
            status=i.status,
            description=i.description,
            witnesses=tuple(i.witnesses or ()),
            reporter=i.reporter,
            legal_refs=i.legal_refs,
            deleted=i.deleted,
            created_at=i.created_at,
            updated_at=i.updated_at,
            evidence=tuple(EvidenceView.of(e) for e in evidence),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "station": self.station_code,
            "station_name": self.station_name,
            "category": self.category,
            "severity": self.severity,
            "status": self.status,
            "observed_at": self.observed_at.isoformat(),
            "text": self.description,
            "witnesses": list(self.witnesses),
            "reporter": self.reporter,
            "legal_refs": self.legal_refs,
            "deleted": self.deleted,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class IncidentFilter:
    search: str = ""
    station_codes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    include_deleted: bool = False


@dataclass(frozen=True)
class IncidentDraft:
    station_code: str
    category: str
    observed_at: datetime
    description: str
    severity: str = "minor"
    status: str = "new"
    witnesses: tuple[str, ...] = ()
    reporter: str | None = None
    legal_refs: str | None = None


# Fields a user may change with edit_incident, and the rule each value must meet.
EDITABLE = frozenset(
    {
        "description",
        "status",
        "category",
        "severity",
        "witnesses",
        "reporter",
        "legal_refs",
        "observed_at",
        "station_code",
    }
)


_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(text_: str) -> str | None:
    """User text -> an FTS5 query: every word must appear, each as a prefix (as-you-type).
    Words are quoted, so FTS5 syntax characters in the input are just text."""
    words = _TOKEN.findall(text_.casefold().replace("ё", "е"))
    if not words:
        return None
    return " ".join(f'"{w}"*' for w in words)


def _check_terms(
    category: str | None = None, severity: str | None = None, status: str | None = None
) -> None:
    if category is not None and category not in taxonomy.category_keys():
        raise InvalidInput(
            f"category: {category!r} is not a known category (see `categories` for the list)"
        )
    if severity is not None and severity not in taxonomy.severity_keys():
        raise InvalidInput(
            f"severity: {severity!r} is not one of {', '.join(sorted(taxonomy.severity_keys()))}"
        )
    if status is not None and status not in taxonomy.status_keys():
        raise InvalidInput(
            f"status: {status!r} is not one of {', '.join(sorted(taxonomy.status_keys()))}"
        )


def _check_time(value: datetime) -> None:
    if value.tzinfo is None:
        raise InvalidInput("observed_at: the time needs a time zone, e.g. 2024-03-17T14:05+05:00")


def _clean_witnesses(witnesses: Sequence[str]) -> list[str]:
    return [w.strip() for w in witnesses if w.strip()]


def add_incident(store: Store, draft: IncidentDraft) -> IncidentView:
    _check_terms(draft.category, draft.severity, draft.status)
    _check_time(draft.observed_at)
    if not draft.description.strip():
        raise InvalidInput("text: describe what happened (the description is empty)")
    with store.db.write() as s:
        inc = create_incident(
            s,
            station_by_code(s, draft.station_code),
            observed_at=draft.observed_at,
            category=draft.category,
            severity=draft.severity,
            status=draft.status,
            description=draft.description.strip(),
            witnesses=_clean_witnesses(draft.witnesses),
            reporter=(draft.reporter or "").strip() or None,
            legal_refs=draft.legal_refs,
        )
        return IncidentView.of(inc)


def create_incident(
    session: Session,
    st: Station,
    *,
    observed_at: datetime,
    category: str,
    severity: str,
    status: str,
    description: str,
    witnesses: list[str],
    reporter: str | None,
    legal_refs: str | None = None,
) -> Incident:
    """Add an incident at the station in the caller's transaction, flushed so that its id and
    number are set. The values are stored as given: checking and cleaning them is the caller's
    (add_incident checks a user's draft; a discrepancy's incident is made by the app)."""
    inc = Incident(
        station_id=st.id,
        observed_at=observed_at,
        observed_tz=offset_minutes(observed_at),
        category=category,
        severity=severity,
        status=status,
        description=description,
        witnesses=witnesses,
        reporter=reporter,
        legal_refs=legal_refs,
    )
    inc.station = st
    session.add(inc)
    session.flush()
    return inc


def _get(session: Session, incident_id: str, *, allow_deleted: bool = False) -> Incident:
    inc = session.scalars(select(Incident).where(Incident.id == incident_id.strip())).first()
    if inc is None or (inc.deleted and not allow_deleted):
        raise NotFound(f"incident {incident_id}: no such incident")
    return inc


def get_incident(store: Store, incident_id: str, *, allow_deleted: bool = False) -> IncidentView:
    with store.db.read() as s:
        inc = _get(s, incident_id, allow_deleted=allow_deleted)
        return IncidentView.of(inc, inc.evidence)


def edit_incident(store: Store, incident_id: str, **changes: Any) -> IncidentView:
    """Change the given fields; returns the incident as it now is. Unknown fields are refused."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise InvalidInput(f"cannot edit {', '.join(sorted(unknown))}")
    _check_terms(changes.get("category"), changes.get("severity"), changes.get("status"))
    if "description" in changes:
        changes["description"] = changes["description"].strip()
        if not changes["description"]:
            raise InvalidInput("text: the description must not be empty")
    if "witnesses" in changes:
        changes["witnesses"] = _clean_witnesses(changes["witnesses"])
    with store.db.write() as s:
        inc = _get(s, incident_id)
        code = changes.pop("station_code", None)
        if code is not None:
            inc.station = station_by_code(s, code)
            inc.station_id = inc.station.id
        when = changes.pop("observed_at", None)
        if when is not None:
            _check_time(when)
            inc.observed_at, inc.observed_tz = when, offset_minutes(when)
        for key, value in changes.items():
            if getattr(inc, key) != value:
                setattr(inc, key, value)
        s.flush()
        return IncidentView.of(inc, inc.evidence)


def set_deleted(store: Store, incident_id: str, deleted: bool) -> IncidentView:
    """Delete (tombstone) or restore an incident. Its evidence stays stored either way."""
    with store.db.write() as s:
        inc = _get(s, incident_id, allow_deleted=True)
        if inc.deleted != deleted:
            inc.deleted = deleted
            s.flush()
        return IncidentView.of(inc, inc.evidence)


# Up to this many full-text matches, a page of results is found fastest by starting from the
# matches; past it, by walking the newest incidents until the page is full (measured at 100k).
FEW_MATCHES = 2000


def _few_matches(session: Session, match: str) -> bool:
    found = session.scalar(
        text(
            "SELECT count(*) FROM (SELECT rowid FROM incident_fts "
            "WHERE incident_fts MATCH :match LIMIT :most)"
        ),
        {"match": match, "most": FEW_MATCHES + 1},
    )
    return int(found or 0) <= FEW_MATCHES


def _filtered(session: Session, flt: IncidentFilter, from_matches: bool = True) -> Select[Any]:
    """The matching incidents' keys. from_matches=False suits a common word with a page limit:
    SQLite then walks the date index and stops once the page is full."""
    election = current_election(session)
    q = select(Incident.num).join(Station, Station.id == Incident.station_id)
    if election is None:  # a laptop that joined a team, before its first sync: nothing yet
        return q.where(false())
    match = fts_query(flt.search)
    fts = select(text("rowid")).select_from(text("incident_fts"))
    if match is None or not from_matches:
        q = q.where(Station.election_id == election.id)
        if not flt.include_deleted:
            q = q.where(Incident.deleted.is_(False))
        if match is not None:
            q = q.where(Incident.num.in_(fts.where(text("incident_fts MATCH :match"))))
            q = q.params(match=match)
    else:
        # Start from the full-text matches. The unary + keeps SQLite from walking the date or
        # station index over the whole table instead (3-5x faster at 100k rows).
        q = q.where(
            text("+station.election_id = :election"),
            Incident.num.in_(fts.where(text("incident_fts MATCH :match"))),
        ).params(election=election.id, match=match)
        if not flt.include_deleted:
            q = q.where(text("+incident.deleted = 0"))
    if flt.station_codes:
        q = q.where(Station.code.in_(flt.station_codes))
    if flt.categories:
        q = q.where(Incident.category.in_(flt.categories))
    if flt.statuses:
        q = q.where(Incident.status.in_(flt.statuses))
    if flt.severities:
        q = q.where(Incident.severity.in_(flt.severities))
    if flt.since is not None:
        q = q.where(Incident.observed_at >= flt.since)
    if flt.until is not None:
        q = q.where(Incident.observed_at <= flt.until)
    return q


def incident_nums(store: Store, flt: IncidentFilter) -> list[int]:
    """Keys of the matching incidents, newest first: cheap even for 100k rows, so a view can
    hold them all and fetch the rows it shows page by page (incidents_by_num)."""
    with store.db.read() as s:
        q = _filtered(s, flt).order_by(Incident.observed_at.desc(), Incident.num.desc())
        return list(s.scalars(q))


def incidents_by_num(store: Store, nums: Sequence[int]) -> list[IncidentView]:
    """The incidents with these keys, in the given order (without their evidence lists)."""
    if not nums:
        return []
    with store.db.read() as s:
        rows = _by_num(s, nums)
        return [IncidentView.of(rows[n]) for n in nums if n in rows]


def _by_num(session: Session, nums: Sequence[int]) -> dict[int, Incident]:
    rows: dict[int, Incident] = {}
    for start in range(0, len(nums), 500):  # SQLite caps the parameters of one statement
        chunk = nums[start : start + 500]
        rows.update(
            (i.num, i) for i in session.scalars(select(Incident).where(Incident.num.in_(chunk)))
        )
    return rows


def list_incidents(
    store: Store, flt: IncidentFilter, limit: int | None = None, offset: int = 0
) -> list[IncidentView]:
    with store.db.read() as s:
        match = fts_query(flt.search)
        from_matches = limit is None or match is None or _few_matches(s, match)
        q = _filtered(s, flt, from_matches).order_by(
            Incident.observed_at.desc(), Incident.num.desc()
        )
        if limit is not None:
            q = q.limit(limit).offset(offset)
        nums = list(s.scalars(q))
        rows = _by_num(s, nums)
        ev: dict[str, list[Evidence]] = {}
        ids = [rows[n].id for n in nums]
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            for e in s.scalars(
                select(Evidence)
                .where(Evidence.incident_id.in_(chunk), Evidence.deleted.is_(False))
                .order_by(Evidence.created_at)
            ):
                ev.setdefault(e.incident_id or "", []).append(e)
        return [IncidentView.of(rows[n], ev.get(rows[n].id, [])) for n in nums]


def count_incidents(store: Store, flt: IncidentFilter = IncidentFilter()) -> int:
    with store.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(_filtered(s, flt).subquery())) or 0)


@dataclass(frozen=True)
class Counts:
    stations: int
    incidents: int
    evidence: int


def store_counts(store: Store) -> Counts:
    with store.db.read() as s:
        return Counts(
            stations=int(s.scalar(select(func.count()).where(Station.deleted.is_(False))) or 0),
            incidents=int(s.scalar(select(func.count()).where(Incident.deleted.is_(False))) or 0),
            evidence=int(s.scalar(select(func.count()).where(Evidence.deleted.is_(False))) or 0),
        )
