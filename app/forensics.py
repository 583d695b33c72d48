"""Election forensics: per-station turnout and the leader's share, for the distribution pictures
(a turnout histogram; turnout against the leader's share). Stations where both are known only.
Each point also says whether the station has incidents and which control relations its
protocol (from the same source) fails, so the pictures can mark them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.country_profiles import get_profile
from app.elections import require_election
from app.protocols import check_figures, check_source, known_figures
from app.store import Store
from storage.models import Incident, Protocol, Station


@dataclass(frozen=True)
class StationPoint:
    code: str
    turnout: float  # ballots issued / voters on the list
    leader_share: float  # the leader's votes / votes for all candidates
    incidents: int = 0  # incidents logged at the station (not deleted)
    failed: tuple[str, ...] = ()  # the relations this source's protocol fails (hard or soft)

    @property
    def marked(self) -> bool:
        """An incident or a failed check: the pictures mark the station."""
        return bool(self.incidents or self.failed)


@dataclass(frozen=True)
class Forensics:
    source: str
    leader: str  # the candidate with the most votes over these stations
    points: tuple[StationPoint, ...]
    skipped: int  # stations with a protocol but without the figures needed

    @property
    def with_incidents(self) -> int:
        return sum(1 for p in self.points if p.incidents)

    @property
    def with_failed_checks(self) -> int:
        return sum(1 for p in self.points if p.failed)


def station_points(store: Store, source: str = "official") -> Forensics:
    check_source(source)
    with store.db.read() as s:
        election = require_election(s)
        profile = get_profile(election.country_profile)
        rows: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
            (sid, code, lines or {}, cands or {})
            for sid, code, lines, cands in s.execute(
                select(Station.id, Station.code, Protocol.lines, Protocol.candidate_votes)
                .join(Station, Station.id == Protocol.station_id)
                .where(Station.election_id == election.id, Protocol.deleted.is_(False),
                       Protocol.source == source)
                .order_by(Station.code)
            )
        ]
        incidents: dict[str, int] = {
            sid: n
            for sid, n in s.execute(
                select(Incident.station_id, func.count())
                .join(Station, Station.id == Incident.station_id)
                .where(Station.election_id == election.id, Incident.deleted.is_(False))
                .group_by(Incident.station_id)
            )
        }
    totals: dict[str, int] = {}
    for _, _, _, cands in rows:
        for name, votes in cands.items():
            totals[name] = totals.get(name, 0) + int(votes or 0)
    leader = max(totals, key=lambda n: totals[n]) if totals else ""
    voters_line, issued_line = profile.roles.get("voters"), profile.roles.get("issued")
    points = []
    for sid, code, lines, cands in rows:
        voters = lines.get(voters_line or "")
        issued = lines.get(issued_line or "")
        all_votes = sum(int(v or 0) for v in cands.values())
        if not voters or issued is None or not all_votes or leader not in cands:
            continue
        failed = tuple(
            c.relation
            for c in check_figures(profile, known_figures(lines), known_figures(cands))
            if c.status == "failed"
        )
        points.append(StationPoint(code, issued / voters, int(cands[leader]) / all_votes,
                                   incidents.get(sid, 0), failed))
    return Forensics(source, leader, tuple(points), len(rows) - len(points))
