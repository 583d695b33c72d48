"""Vote-count protocols: figures entered from a photo (or imported), checked against the
country profile's control relations.

A blank line is unknown, never zero: a relation is checked only where every line it uses is
known, so an incomplete copy gives "unknown", not a false alarm. One station has at most one
protocol per source (observer's copy, posted copy, official result); a second, different entry
is a conflict shown to the user, replaced only when they say so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.country_profiles import CANDIDATES, Profile, Relation, get_profile
from app.elections import require_election, station_by_code
from app.errors import InvalidInput, KuaError
from app.incidents import EvidenceView
from app.stations_csv import _NEGATIVE_NUMBER, _WHOLE_NUMBER, _quote
from app.store import Store
from storage.models import Evidence, Protocol, Station
from storage.timeutil import utcnow

SOURCES: tuple[str, ...] = ("observer", "posted", "official")
Status = Literal["ok", "failed", "unknown"]

Figures = Mapping[str, int]  # known values only: a line that is absent is unknown


class ProtocolConflict(KuaError):
    """The station already has a different protocol from this source."""


def parse_count(value: str) -> int | None | str:
    """A figure as written on a protocol: a whole number (1 329 and 1329 alike), None for a
    blank (unknown), or an error text."""
    value = value.strip()
    if not value:
        return None
    if _WHOLE_NUMBER.fullmatch(value):
        return int(re.sub(r"[^0-9]", "", value))
    if _NEGATIVE_NUMBER.fullmatch(value):
        return f"{_quote(value)} is negative; a protocol figure is 0 or more"
    return f"{_quote(value)} is not a whole number"


# --- checks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermValue:
    term: str  # a line id, or "candidates"
    value: int | None


@dataclass(frozen=True)
class CheckResult:
    relation: str
    label: str
    kind: str  # hard, soft
    op: str
    status: Status
    left: int | None
    right: int | None
    left_terms: tuple[TermValue, ...]
    right_terms: tuple[TermValue, ...]
    missing: tuple[str, ...]  # the unknown terms that kept it from being checked

    @property
    def difference(self) -> int | None:
        return None if self.left is None or self.right is None else self.left - self.right

    def to_json(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "label": self.label,
            "kind": self.kind,
            "op": self.op,
            "status": self.status,
            "left": self.left,
            "right": self.right,
            "difference": self.difference,
            "left_terms": {t.term: t.value for t in self.left_terms},
            "right_terms": {t.term: t.value for t in self.right_terms},
            "missing": list(self.missing),
        }

    def formula(self) -> str:
        """E.g. "1660 = 1329 + 1 + 330", with ? for unknown terms."""

        def side(terms: tuple[TermValue, ...]) -> str:
            return " + ".join("?" if t.value is None else str(t.value) for t in terms)

        return f"{side(self.left_terms)} {self.op} {side(self.right_terms)}"


def candidates_total(
    candidates: Mapping[str, int], expected: Sequence[str] = ()
) -> tuple[int | None, tuple[str, ...]]:
    """The votes for all candidates, or None with what is missing. With a known ballot
    (expected names), every candidate's figure must be there; without one, any figure counts."""
    if expected:
        have = {k.casefold(): v for k, v in candidates.items()}
        missing = tuple(n for n in expected if n.casefold() not in have)
        if missing:
            return None, tuple(f"{CANDIDATES}: {n}" for n in missing)
    if not candidates:
        return None, (CANDIDATES,)
    return sum(candidates.values()), ()


def _evaluate(
    rel: Relation, lines: Figures, candidates: Mapping[str, int], ballot: Sequence[str], lang: str
) -> CheckResult:
    missing: list[str] = []

    def values(terms: tuple[str, ...]) -> tuple[TermValue, ...]:
        out = []
        for t in terms:
            if t == CANDIDATES:
                value, lacking = candidates_total(candidates, ballot)
                missing.extend(lacking)
            else:
                value = lines.get(t)
                if value is None:
                    missing.append(t)
            out.append(TermValue(t, value))
        return tuple(out)

    left_terms, right_terms = values(rel.left), values(rel.right)
    left = right = None
    status: Status = "unknown"
    if not missing:
        left = sum(t.value or 0 for t in left_terms)
        right = sum(t.value or 0 for t in right_terms)
        holds = {"=": left == right, "<=": left <= right, ">=": left >= right}[rel.op]
        status = "ok" if holds else "failed"
    return CheckResult(
        rel.id, rel.label(lang), rel.kind, rel.op, status, left, right,
        left_terms, right_terms, tuple(missing),
    )


def check_figures(
    profile: Profile,
    lines: Figures,
    candidates: Mapping[str, int],
    lang: str = "en",
    ballot: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Every relation of the profile, in its order: ok, failed or unknown."""
    names = profile.candidates if ballot is None else ballot
    return [_evaluate(r, lines, candidates, names, lang) for r in profile.relations]


# --- stored protocols -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolDraft:
    station_code: str
    source: str
    lines: Mapping[str, int | None]  # None: left blank (unknown)
    candidates: Mapping[str, int | None] = field(default_factory=dict)
    entered_by: str | None = None


@dataclass(frozen=True)
class ProtocolView:
    id: str
    station_code: str
    station_name: str
    source: str
    profile: str
    lines: Mapping[str, int]
    candidates: Mapping[str, int]
    entered_by: str | None
    received_at: datetime | None
    photos: tuple[EvidenceView, ...] = ()
    checks: tuple[CheckResult, ...] = ()

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status == "failed")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "station": self.station_code,
            "station_name": self.station_name,
            "source": self.source,
            "profile": self.profile,
            "lines": dict(self.lines),
            "candidates": dict(self.candidates),
            "entered_by": self.entered_by,
            "received_at": None if self.received_at is None else self.received_at.isoformat(),
            "photos": [p.to_json() for p in self.photos],
            "checks": [c.to_json() for c in self.checks],
        }


def known_figures(values: Mapping[str, Any]) -> dict[str, int]:
    """Stored figures (lines or candidates' votes) without the blank (unknown) ones."""
    return {str(k): int(v) for k, v in values.items() if v is not None}


def _view(
    p: Protocol, st: Station, photos: Iterable[Evidence] = (), lang: str = "en"
) -> ProtocolView:
    try:
        profile = get_profile(p.profile or "generic")
    except InvalidInput:  # a profile this version does not ship (e.g. synced from a newer one)
        profile = get_profile("generic")
    lines, candidates = known_figures(p.lines or {}), known_figures(p.candidate_votes or {})
    return ProtocolView(
        p.id, st.code, st.name, p.source, profile.id, lines, candidates, p.entered_by,
        p.received_at, tuple(EvidenceView.of(e) for e in photos),
        tuple(check_figures(profile, lines, candidates, lang)),
    )


def election_profile(session: Session) -> Profile:
    return get_profile(require_election(session).country_profile)


def current_profile(store: Store) -> Profile:
    """The country profile of the current election."""
    with store.db.read() as s:
        return election_profile(s)


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise InvalidInput(f"source: {source!r} is not one of {', '.join(SOURCES)}")


def clean_draft(profile: Profile, draft: ProtocolDraft) -> tuple[dict[str, int], dict[str, int]]:
    """The known figures, with line ids checked against the profile."""
    check_source(draft.source)
    for line_id in draft.lines:
        profile.line(line_id)  # raises for a line the profile does not have
    for name, votes in (*draft.lines.items(), *draft.candidates.items()):
        if votes is not None and votes < 0:
            raise InvalidInput(f"{name}: {votes} is negative; a protocol figure is 0 or more")
    candidates = {n.strip(): v for n, v in draft.candidates.items() if v is not None}
    if any(not n for n in candidates):
        raise InvalidInput("candidate: the name is empty")
    if profile.candidates:
        ballot = {n.casefold(): n for n in profile.candidates}
        unknown = [n for n in candidates if n.casefold() not in ballot]
        if unknown:
            raise InvalidInput(
                f"candidate {unknown[0]!r} is not on the ballot of profile {profile.id} "
                f"({'; '.join(profile.candidates)})"
            )
        candidates = {ballot[n.casefold()]: v for n, v in candidates.items()}
    return known_figures(draft.lines), candidates


def find_protocol(session: Session, station_id: str, source: str) -> Protocol | None:
    return session.scalars(
        select(Protocol).where(
            Protocol.station_id == station_id,
            Protocol.source == source,
            Protocol.deleted.is_(False),
        )
    ).first()


def describe_conflict(
    code: str,
    source: str,
    old: Protocol,
    lines: Figures,
    candidates: Figures,
    replace_hint: str = "use --replace",
) -> str:
    """Why a second entry is refused. replace_hint: how the caller's command says to replace
    (a results import says "give --replace", like its "give --create-stations")."""
    diffs = []
    old_lines = known_figures(old.lines or {})
    old_cands = known_figures(old.candidate_votes or {})
    for key in sorted(set(old_lines) | set(lines)):
        if old_lines.get(key) != lines.get(key):
            diffs.append(f"line {key}: stored {_shown(old_lines.get(key))}, "
                         f"new {_shown(lines.get(key))}")
    for key in sorted(set(old_cands) | set(candidates)):
        if old_cands.get(key) != candidates.get(key):
            diffs.append(f"{key}: stored {_shown(old_cands.get(key))}, "
                         f"new {_shown(candidates.get(key))}")
    who = f" entered by {old.entered_by}" if old.entered_by else ""
    shown = "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")
    return (
        f"station {code} already has a different {source} protocol{who} ({shown}); "
        f"nothing was changed: {replace_hint} to replace it"
    )


def _shown(value: int | None) -> str:
    return "blank" if value is None else str(value)


def _in_order(figures: dict[str, int], order: Mapping[str, int]) -> dict[str, int]:
    """The figures in the profile's order; names it does not have last, by name."""
    return dict(sorted(figures.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def save_protocol(
    session: Session,
    st: Station,
    old: Protocol | None,
    profile: Profile,
    source: str,
    lines: dict[str, int],
    candidates: dict[str, int],
    entered_by: str | None,
    replace: bool,
) -> tuple[Protocol, str]:
    """Create or (with replace) update the station's protocol from this source (old: the one it
    has now); returns it and what happened: created, replaced or unchanged. Refuses a different
    second entry."""
    # Stored in the profile's order: the same figures are then the same JSON text, which lets a
    # comparison of sources skip equal protocols without decoding them.
    order = {k: i for i, k in enumerate((*profile.line_ids, *profile.candidates))}
    lines, candidates = _in_order(lines, order), _in_order(candidates, order)
    if old is not None:
        same = (known_figures(old.lines or {}) == lines
                and known_figures(old.candidate_votes or {}) == candidates)
        if same:
            return old, "unchanged"
        if not replace:
            raise ProtocolConflict(describe_conflict(st.code, source, old, lines, candidates))
        old.lines, old.candidate_votes, old.profile = lines, candidates, profile.id
        old.entered_by, old.received_at = entered_by, utcnow()
        return old, "replaced"
    p = Protocol(
        station_id=st.id, source=source, profile=profile.id, lines=lines,
        candidate_votes=candidates, entered_by=entered_by, received_at=utcnow(),
    )
    session.add(p)
    return p, "created"


def add_protocol(store: Store, draft: ProtocolDraft, replace: bool = False) -> ProtocolView:
    """Enter one station's protocol from one source (see save_protocol for a second entry)."""
    with store.db.write() as s:
        profile = election_profile(s)
        lines, candidates = clean_draft(profile, draft)
        st = station_by_code(s, draft.station_code)
        entered_by = (draft.entered_by or "").strip() or None
        old = find_protocol(s, st.id, draft.source)
        p, _ = save_protocol(
            s, st, old, profile, draft.source, lines, candidates, entered_by, replace
        )
        s.flush()
        return _view(p, st, protocol_photos(s, p.id))


def add_protocol_with_photos(
    store: Store, draft: ProtocolDraft, photo_paths: Sequence[Path], replace: bool = False
) -> ProtocolView:
    """Check every photo first (a bad one rejects everything), then save and attach them."""
    if not photo_paths:  # nothing to check or attach: one transaction instead of three
        return add_protocol(store, draft, replace)
    from app.evidence import attach_to_protocol, prepare_files

    with store.db.read() as s:  # refuse bad figures before any photo is stored
        clean_draft(election_profile(s), draft)
    prepared = list(prepare_files(store, photo_paths))
    failed = [f"{Path(p.path).name}: {p.error}" for p in prepared if p.error]
    if failed:
        raise InvalidInput("; ".join(failed) + "; no protocol was saved")
    view = add_protocol(store, draft, replace)
    for p in prepared:
        outcome = attach_to_protocol(store, view.id, p)
        if not outcome.ok:
            raise KuaError(f"the protocol was saved but a photo was not: {outcome.error}")
    return get_protocol(store, view.station_code, draft.source)


def protocol_photos(session: Session, protocol_id: str) -> list[Evidence]:
    """The protocol's photos (not deleted), oldest first."""
    return list(
        session.scalars(
            select(Evidence)
            .where(Evidence.protocol_id == protocol_id, Evidence.deleted.is_(False))
            .order_by(Evidence.created_at)
        )
    )


def get_protocol(store: Store, station_code: str, source: str, lang: str = "en") -> ProtocolView:
    check_source(source)
    with store.db.read() as s:
        st = station_by_code(s, station_code)
        p = find_protocol(s, st.id, source)
        if p is None:
            raise KuaError(f"station {st.code} has no {source} protocol")
        return _view(p, st, protocol_photos(s, p.id), lang)


def station_protocols(store: Store, station_code: str, lang: str = "en") -> list[ProtocolView]:
    """The station's protocols, one per source (in the order observer, posted, official), each
    with its checks. Empty when none was entered."""
    with store.db.read() as s:
        return protocol_views(s, station_by_code(s, station_code), lang)


def protocol_views(session: Session, st: Station, lang: str = "en") -> list[ProtocolView]:
    """The protocols of a station row (any election), in the order observer, posted, official."""
    rows = session.scalars(
        select(Protocol).where(Protocol.station_id == st.id, Protocol.deleted.is_(False))
    )
    views = [_view(p, st, protocol_photos(session, p.id), lang) for p in rows]
    return sorted(views, key=lambda v: SOURCES.index(v.source) if v.source in SOURCES else 9)
