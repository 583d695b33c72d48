"""Elections and the station list of the current one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, KuaError, NotFound
from app.stations_csv import StationCsvError, StationRow, parse_stations_csv
from app.store import Store, get_setting, set_setting
from storage import audit
from storage.models import Election, Incident, Station
from storage.revisions import device_id

CURRENT_ELECTION = "current_election"


@dataclass(frozen=True)
class ElectionView:
    id: str
    name: str
    date: str
    kind: str
    country_profile: str

    @staticmethod
    def of(e: Election) -> ElectionView:
        return ElectionView(e.id, e.name, e.date, e.kind, e.country_profile)


@dataclass(frozen=True)
class StationView:
    id: str
    code: str
    name: str
    region: str
    district: str
    address: str
    commission: str | None
    registered_voters: int | None
    lat: float | None
    lon: float | None
    incidents: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _station_view(s: Station, incidents: int = 0) -> StationView:
    return StationView(
        s.id,
        s.code,
        s.name,
        s.region,
        s.district,
        s.address,
        s.commission,
        s.registered_voters,
        s.lat,
        s.lon,
        incidents,
    )


def current_election(session: Session) -> Election | None:
    eid = get_setting(session, CURRENT_ELECTION)
    if eid:
        e = session.get(Election, eid)
        if e is not None and not e.deleted:
            return e
    # Fall back to the most recent election in the store (e.g. one that arrived by sync).
    return session.scalars(
        select(Election).where(Election.deleted.is_(False)).order_by(Election.created_at.desc())
    ).first()


def require_election(session: Session) -> Election:
    e = current_election(session)
    if e is None:
        raise KuaError(
            "There is no election yet: create one (election create NAME --date YYYY-MM-DD), "
            "import a station list, or load the demo."
        )
    return e


def create_election(
    store: Store, name: str, day: str, kind: str = "presidential", profile: str = "kz-presidential"
) -> ElectionView:
    name = name.strip()
    if not name:
        raise InvalidInput("election name: must not be empty")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(f"election date: {day!r} is not a date like 2024-03-17") from None
    with store.db.write() as s:
        existing = s.scalars(select(Election).where(Election.name == name, Election.date == day))
        e = existing.first()
        if e is None:
            e = Election(name=name, date=day, kind=kind, country_profile=profile)
            s.add(e)
            s.flush()
        set_setting(s, CURRENT_ELECTION, e.id)
        return ElectionView.of(e)


def list_elections(store: Store) -> list[ElectionView]:
    with store.db.read() as s:
        rows = s.scalars(
            select(Election).where(Election.deleted.is_(False)).order_by(Election.date)
        )
        return [ElectionView.of(e) for e in rows]


def use_election(store: Store, election_id: str) -> ElectionView:
    with store.db.write() as s:
        e = s.get(Election, election_id)
        if e is None or e.deleted:
            raise NotFound(f"no election with id {election_id}")
        set_setting(s, CURRENT_ELECTION, e.id)
        return ElectionView.of(e)


def get_current_election(store: Store) -> ElectionView | None:
    with store.db.read() as s:
        e = current_election(s)
        return None if e is None else ElectionView.of(e)


@dataclass(frozen=True)
class StationImport:
    file: str
    created: int
    updated: int
    unchanged: int
    election: ElectionView


_STATION_FIELDS = (
    "name",
    "region",
    "district",
    "address",
    "commission",
    "registered_voters",
    "lat",
    "lon",
)


def import_stations(store: Store, path: Path) -> StationImport:
    """Import a station list into the current election (created if there is none).
    All or nothing: a file with any error imports no row. Re-import updates stations by code."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KuaError(f"{path}: cannot read the file ({exc.strerror})") from exc
    try:
        rows: list[StationRow] = parse_stations_csv(data, path.name)
    except StationCsvError as exc:
        raise InvalidInput(str(exc)) from exc
    created = updated = unchanged = 0
    with store.db.write() as s:
        e = current_election(s)
        if e is None:
            e = Election(name=f"Election {date.today().isoformat()}", date=date.today().isoformat())
            s.add(e)
            s.flush()
            set_setting(s, CURRENT_ELECTION, e.id)
        existing = {
            st.code: st for st in s.scalars(select(Station).where(Station.election_id == e.id))
        }
        for row in rows:
            st = existing.get(row.code)
            if st is None:
                s.add(Station(election_id=e.id, code=row.code, **_row_fields(row)))
                created += 1
                continue
            changed = False
            for key, value in _row_fields(row).items():
                if getattr(st, key) != value:
                    setattr(st, key, value)
                    changed = True
            if st.deleted:
                st.deleted, changed = False, True
            updated += changed
            unchanged += not changed
        s.flush()
        audit.append(
            s,
            device_id(s),
            "import",
            "station",
            None,
            {"file": path.name, "created": created, "updated": updated},
        )
        return StationImport(path.name, created, updated, unchanged, ElectionView.of(e))


def _row_fields(row: StationRow) -> dict[str, Any]:
    return {k: getattr(row, k) for k in _STATION_FIELDS}


def list_stations(store: Store) -> list[StationView]:
    """Stations of the current election with their (non-deleted) incident counts."""
    with store.db.read() as s:
        e = current_election(s)
        if e is None:
            return []
        counts = (
            select(Incident.station_id, func.count().label("n"))
            .where(Incident.deleted.is_(False))
            .group_by(Incident.station_id)
            .subquery()
        )
        q = (
            select(Station, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.station_id == Station.id)
            .where(Station.election_id == e.id, Station.deleted.is_(False))
            .order_by(Station.code)
        )
        return [_station_view(st, n) for st, n in s.execute(q)]


def station_by_code(session: Session, code: str) -> Station:
    e = require_election(session)
    st = session.scalars(
        select(Station).where(
            Station.election_id == e.id, Station.code == code.strip(), Station.deleted.is_(False)
        )
    ).first()
    if st is None:
        raise NotFound(f"station {code!r}: no such station in election {e.name!r}")
    return st
