"""Country profiles: a protocol's lines, its control relations and complaint rules, as data.

Profiles live in ``app/data/profiles/<id>.json``. Each line has a stable id (stored in the
database and synced) and labels in Russian, Kazakh and English. A relation compares the sum of
its left terms with the sum of its right terms (``=``, ``<=`` or ``>=``); a term is a line id or
``candidates``, the sum of the votes for all candidates. ``hard`` relations must hold; ``soft``
ones only make a protocol suspicious. ``comment`` fields say where something was not checked
against the law or a real form: nothing in a profile is presented as law unless it was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from app.errors import InvalidInput

CANDIDATES = "candidates"  # the special term: votes for all candidates together
OPS = ("=", "<=", ">=")
KINDS = ("hard", "soft")
FALLBACK_LANG = "en"

Op = Literal["=", "<=", ">="]
Kind = Literal["hard", "soft"]


def _labels(raw: Any, where: str) -> Mapping[str, str]:
    if not isinstance(raw, dict) or not raw.get(FALLBACK_LANG):
        raise ValueError(f"{where}: needs a label with at least an English text")
    return MappingProxyType({str(k): str(v) for k, v in raw.items()})


def _pick(labels: Mapping[str, str], lang: str) -> str:
    return labels.get(lang) or labels.get(FALLBACK_LANG) or ""


@dataclass(frozen=True)
class Line:
    id: str
    labels: Mapping[str, str] = field(hash=False)
    comment: str = ""

    def label(self, lang: str = "en") -> str:
        return _pick(self.labels, lang)


@dataclass(frozen=True)
class Relation:
    id: str
    kind: Kind
    left: tuple[str, ...]
    op: Op
    right: tuple[str, ...]
    labels: Mapping[str, str] = field(hash=False)
    comment: str = ""

    def label(self, lang: str = "en") -> str:
        return _pick(self.labels, lang)

    @property
    def terms(self) -> tuple[str, ...]:
        return self.left + self.right


@dataclass(frozen=True)
class Profile:
    id: str
    names: Mapping[str, str] = field(hash=False)
    comment: str
    lines: tuple[Line, ...]
    relations: tuple[Relation, ...]
    candidates: tuple[str, ...]  # the ballot, where the profile is for one election
    addressee: str
    addressee_comment: str
    # Lines with a meaning beyond the checks (turnout = issued / voters, for the forensics).
    roles: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def line_ids(self) -> tuple[str, ...]:
        return tuple(line.id for line in self.lines)

    def line(self, line_id: str) -> Line:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise InvalidInput(
            f"line {line_id!r} is not in profile {self.id} "
            f"(its lines: {', '.join(self.line_ids)})"
        )


def _parse(raw: dict[str, Any], source: str) -> Profile:
    lines = []
    for i, item in enumerate(raw.get("lines") or []):
        lid = str(item.get("id", "")).strip()
        if not lid or lid == CANDIDATES:
            raise ValueError(f"{source}: line {i + 1} has no id, or a reserved one")
        lines.append(Line(lid, _labels(item.get("label"), f"{source} line {lid}"),
                          str(item.get("comment", ""))))
    ids = [line.id for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{source}: duplicate line ids")
    relations = []
    for item in raw.get("relations") or []:
        rid = str(item.get("id", ""))
        where = f"{source} relation {rid}"
        kind, op = item.get("kind"), item.get("op")
        if kind not in KINDS or op not in OPS:
            raise ValueError(f"{where}: kind must be one of {KINDS} and op one of {OPS}")
        left = tuple(str(t) for t in item.get("left") or ())
        right = tuple(str(t) for t in item.get("right") or ())
        unknown = [t for t in left + right if t != CANDIDATES and t not in ids]
        if not left or not right or unknown:
            raise ValueError(f"{where}: empty side or unknown term(s) {unknown}")
        relations.append(
            Relation(rid, kind, left, op, right, _labels(item.get("label"), where),
                     str(item.get("comment", "")))
        )
    complaints = raw.get("complaints") or {}
    roles = {str(k): str(v) for k, v in (raw.get("roles") or {}).items()}
    if any(v not in ids for v in roles.values()):
        raise ValueError(f"{source}: a role names an unknown line")
    return Profile(
        id=str(raw["id"]),
        names=_labels(raw.get("name"), source),
        comment=str(raw.get("comment", "")),
        lines=tuple(lines),
        relations=tuple(relations),
        candidates=tuple(str(c) for c in raw.get("candidates") or ()),
        addressee=str(complaints.get("addressee", "superior_commission")),
        addressee_comment=str(complaints.get("comment", "")),
        roles=MappingProxyType(roles),
    )


def _folder() -> Any:
    return resources.files("app") / "data" / "profiles"


@cache
def profile_ids() -> tuple[str, ...]:
    return tuple(
        sorted(f.name[: -len(".json")] for f in _folder().iterdir() if f.name.endswith(".json"))
    )


@cache
def get_profile(profile_id: str) -> Profile:
    if profile_id not in profile_ids():
        raise InvalidInput(
            f"profile {profile_id!r}: no such country profile "
            f"(there are: {', '.join(profile_ids())})"
        )
    source = f"{profile_id}.json"
    raw = json.loads((_folder() / source).read_text(encoding="utf-8"))
    profile = _parse(raw, source)
    if profile.id != profile_id:
        raise ValueError(f"{source}: its id is {profile.id!r}")
    return profile
