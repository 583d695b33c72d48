"""Comparison of sources: where the observer's (or the posted) copy of a station's protocol
differs from the official published result, line by line. A finding can become an incident
("protocol falsified or corrected") with the protocol photos attached."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from app.elections import require_election, station_by_code
from app.errors import InvalidInput, NotFound
from app.incidents import IncidentView, create_incident, get_incident
from app.protocols import check_source, find_protocol, protocol_photos
from app.store import Store
from storage.models import Evidence, Protocol, Station

COPIES: tuple[str, ...] = ("observer", "posted")  # what is compared with the official result
CATEGORY = "protocol_falsified"
Sort = Literal["size", "station"]


@dataclass(frozen=True)
class LineDifference:
    line: str  # a line id, or a candidate's name
    is_candidate: bool
    copy: int
    official: int

    @property
    def difference(self) -> int:
        return self.official - self.copy

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line, "candidate": self.is_candidate, "copy": self.copy,
            "official": self.official, "difference": self.difference,
        }


@dataclass(frozen=True)
class Discrepancy:
    station_code: str
    station_name: str
    source: str  # the copy compared with the official result: observer or posted
    differences: tuple[LineDifference, ...]

    @property
    def size(self) -> int:
        """The largest difference on any line, in votes or ballots."""
        return max(abs(d.difference) for d in self.differences)

    def to_json(self) -> dict[str, Any]:
        return {
            "station": self.station_code, "station_name": self.station_name,
            "source": self.source, "size": self.size,
            "differences": [d.to_json() for d in self.differences],
        }


def compare(
    copy_lines: Mapping[str, Any], copy_cands: Mapping[str, Any],
    official_lines: Mapping[str, Any], official_cands: Mapping[str, Any],
) -> list[LineDifference]:
    """Lines known in both and different. A line blank in either is unknown: no finding."""
    out = []
    for is_cand, mine, theirs in ((False, copy_lines, official_lines),
                                  (True, copy_cands, official_cands)):
        for key, value in mine.items():
            other = theirs.get(key)
            if value is not None and other is not None and value != other:
                out.append(LineDifference(key, is_cand, int(value), int(other)))
    return out


def find_discrepancies(
    store: Store, sources: Sequence[str] = COPIES, sort: Sort = "size"
) -> list[Discrepancy]:
    for src in sources:
        check_source(src)
    with store.db.read() as s:
        election = require_election(s)
        # The figures as stored JSON text: equal text is equal figures, so only the copies
        # that differ from the official text are decoded and compared line by line.
        q = (
            select(Station.code, Station.name, Protocol.source,
                   type_coerce(Protocol.lines, Text), type_coerce(Protocol.candidate_votes, Text))
            .join(Station, Station.id == Protocol.station_id)
            .where(
                Station.election_id == election.id,
                Protocol.deleted.is_(False),
                Protocol.source.in_((*sources, "official")),
            )
        )
        by_station: dict[str, dict[str, tuple[str | None, str | None]]] = {}
        names: dict[str, str] = {}
        for code, name, source, lines, cands in s.connection().execute(q):
            by_station.setdefault(code, {})[source] = (lines, cands)
            names[code] = name
    found = []
    for code, protocols in by_station.items():
        official = protocols.get("official")
        if official is None:
            continue
        for src in sources:
            copy = protocols.get(src)
            if copy is None or copy == official:
                continue
            diffs = compare(_decode(copy[0]), _decode(copy[1]),
                            _decode(official[0]), _decode(official[1]))
            if diffs:
                found.append(Discrepancy(code, names[code], src, tuple(diffs)))
    if sort == "size":
        found.sort(key=lambda d: (-d.size, d.station_code, d.source))
    else:
        found.sort(key=lambda d: (d.station_code, d.source))
    return found


def _decode(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


_TEXT = {
    "ru": ("Протокол участка {code} ({source}) расходится с официальными данными:",
           "строка {line}: в копии {copy}, в официальных данных {official} ({diff:+d})",
           {"observer": "копия наблюдателя", "posted": "вывешенная копия"}),
    "kk": ("{code} учаскесінің хаттамасы ({source}) ресми деректерден өзгеше:",
           "{line}-жол: көшірмеде {copy}, ресми деректерде {official} ({diff:+d})",
           {"observer": "байқаушы көшірмесі", "posted": "ілінген көшірме"}),
    "en": ("The protocol of station {code} ({source}) differs from the official result:",
           "line {line}: {copy} in the copy, {official} in the official result ({diff:+d})",
           {"observer": "observer's copy", "posted": "posted copy"}),
}


def describe(d: Discrepancy, lang: str = "en") -> str:
    head, item, sources = _TEXT.get(lang, _TEXT["en"])
    out = [head.format(code=d.station_code, source=sources.get(d.source, d.source))]
    for x in d.differences:
        out.append("- " + item.format(line=x.line, copy=x.copy, official=x.official,
                                      diff=x.difference))
    return "\n".join(out)


def _finding(
    session: Session, station_code: str, source: str
) -> tuple[Station, Protocol, list[LineDifference]] | None:
    """The station, its copy from source and the lines where that differs from the official
    result; None without the station, either protocol, or a difference."""
    try:
        st = station_by_code(session, station_code)
    except NotFound:  # told as "does not differ (or one of them is missing)", as before
        return None
    copy = find_protocol(session, st.id, source)
    official = find_protocol(session, st.id, "official")
    if copy is None or official is None:
        return None
    diffs = compare(copy.lines or {}, copy.candidate_votes or {},
                    official.lines or {}, official.candidate_votes or {})
    return (st, copy, diffs) if diffs else None


def incident_from_discrepancy(
    store: Store,
    station_code: str,
    source: str = "observer",
    lang: str = "en",
    reporter: str | None = None,
    observed_at: datetime | None = None,
) -> IncidentView:
    """One operation: an incident "protocol falsified or corrected" at the station, its text
    naming every differing line, with the copy's protocol photos attached as its evidence."""
    if source not in COPIES:
        raise InvalidInput(f"source: compare {' or '.join(COPIES)} with official, not {source}")
    when = observed_at or datetime.now().astimezone()
    # One write transaction: the incident is made from the figures as they are when it is made.
    with store.db.write() as s:
        found = _finding(s, station_code, source)
        if found is None:
            raise NotFound(
                f"station {station_code}: its {source} protocol does not differ from the "
                "official result (or one of them is missing)"
            )
        st, copy, diffs = found
        finding = Discrepancy(st.code, st.name, source, tuple(diffs))
        inc = create_incident(
            s, st, observed_at=when, category=CATEGORY, severity="serious", status="new",
            description=describe(finding, lang), witnesses=[], reporter=reporter,
        )
        for ev in protocol_photos(s, copy.id):  # the same stored file, now also the incident's
            s.add(Evidence(
                incident_id=inc.id, sha256=ev.sha256, original_name=ev.original_name,
                mime=ev.mime, size=ev.size, width=ev.width, height=ev.height,
                taken_at=ev.taken_at, gps_lat=ev.gps_lat, gps_lon=ev.gps_lon,
                gps_alt=ev.gps_alt, camera=ev.camera, orientation=ev.orientation,
                note=ev.note, unreadable=list(ev.unreadable or ()),
            ))
        incident_id = inc.id
    return get_incident(store, incident_id)
