"""Election forensics: per-station turnout and the leader's share, for the distribution pictures
(a turnout histogram; turnout against the leader's share). Stations where both are known only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.country_profiles import get_profile
from app.elections import require_election
from app.protocols import check_source
from app.store import Store
from storage.models import Protocol, Station


@dataclass(frozen=True)
class StationPoint:
    code: str
    turnout: float  # ballots issued / voters on the list
    leader_share: float  # the leader's votes / votes for all candidates


@dataclass(frozen=True)
class Forensics:
    source: str
    leader: str  # the candidate with the most votes over these stations
    points: tuple[StationPoint, ...]
    skipped: int  # stations with a protocol but without the figures needed


def station_points(store: Store, source: str = "official") -> Forensics:
    check_source(source)
    with store.db.read() as s:
        election = require_election(s)
        profile = get_profile(election.country_profile)
        rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
            (code, lines or {}, cands or {})
            for code, lines, cands in s.execute(
                select(Station.code, Protocol.lines, Protocol.candidate_votes)
                .join(Station, Station.id == Protocol.station_id)
                .where(Station.election_id == election.id, Protocol.deleted.is_(False),
                       Protocol.source == source)
                .order_by(Station.code)
            )
        ]
    totals: dict[str, int] = {}
    for _, _, cands in rows:
        for name, votes in cands.items():
            totals[name] = totals.get(name, 0) + int(votes or 0)
    leader = max(totals, key=lambda n: totals[n]) if totals else ""
    voters_line, issued_line = profile.roles.get("voters"), profile.roles.get("issued")
    points = []
    for code, lines, cands in rows:
        voters = lines.get(voters_line or "")
        issued = lines.get(issued_line or "")
        all_votes = sum(int(v or 0) for v in cands.values())
        if not voters or issued is None or not all_votes or leader not in cands:
            continue
        points.append(StationPoint(code, issued / voters, int(cands[leader]) / all_votes))
    return Forensics(source, leader, tuple(points), len(rows) - len(points))
