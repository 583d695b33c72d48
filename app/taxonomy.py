"""Default incident taxonomy: categories, severities and statuses.

The terms live in ``app/data/taxonomy.json`` (data, not code). Keys are stable
identifiers stored in the database and synced between devices; labels are
shown to people in Russian (``ru``), Kazakh (``kk``) or English (``en``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

LANGS: tuple[str, ...] = ("ru", "kk", "en")
FALLBACK_LANG = "en"

Kind = Literal["category", "severity", "status"]

_SECTIONS: dict[str, str] = {
    "category": "categories",
    "severity": "severities",
    "status": "statuses",
}


@dataclass(frozen=True)
class Term:
    """One taxonomy entry: a stable key and its labels per language."""

    key: str
    # Read-only view; excluded from the hash (a mapping is not hashable), still compared.
    labels: Mapping[str, str] = field(hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.labels, MappingProxyType):
            object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    def label(self, lang: str) -> str:
        """The label in ``lang``; English when that language has none."""
        text = self.labels.get(lang) or self.labels.get(FALLBACK_LANG)
        return text or self.key


@dataclass(frozen=True)
class _Taxonomy:
    categories: tuple[Term, ...]
    severities: tuple[Term, ...]
    statuses: tuple[Term, ...]

    def section(self, kind: str) -> tuple[Term, ...]:
        if kind == "category":
            return self.categories
        if kind == "severity":
            return self.severities
        if kind == "status":
            return self.statuses
        raise ValueError(f"unknown taxonomy kind {kind!r}")


def _parse_terms(raw: Any, section: str) -> tuple[Term, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"taxonomy.json: {section!r} must be a non-empty list")
    terms: list[Term] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"taxonomy.json: {section}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: must be an object")
        key = item.get("key")
        labels = item.get("labels")
        if not isinstance(key, str) or not key:
            raise ValueError(f"{where}: 'key' must be a non-empty string")
        if key in seen:
            raise ValueError(f"{where}: duplicate key {key!r}")
        seen.add(key)
        if not isinstance(labels, dict):
            raise ValueError(f"{where} ({key}): 'labels' must be an object")
        for lang in LANGS:
            text = labels.get(lang)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{where} ({key}): missing {lang!r} label")
        terms.append(Term(key=key, labels={str(k): str(v) for k, v in labels.items()}))
    return tuple(terms)


@cache
def _load() -> _Taxonomy:
    text = resources.files("app").joinpath("data/taxonomy.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("taxonomy.json: top level must be an object")
    return _Taxonomy(
        categories=_parse_terms(data.get("categories"), "categories"),
        severities=_parse_terms(data.get("severities"), "severities"),
        statuses=_parse_terms(data.get("statuses"), "statuses"),
    )


@cache
def _index(kind: str) -> Mapping[str, Term]:
    return MappingProxyType({t.key: t for t in _load().section(kind)})


def categories() -> list[Term]:
    """Default incident categories, in display order."""
    return list(_load().categories)


def severities() -> list[Term]:
    """Incident severities, from least to most severe."""
    return list(_load().severities)


def statuses() -> list[Term]:
    """Incident statuses, in workflow order."""
    return list(_load().statuses)


def category_keys() -> frozenset[str]:
    return frozenset(_index("category"))


def severity_keys() -> frozenset[str]:
    return frozenset(_index("severity"))


def status_keys() -> frozenset[str]:
    return frozenset(_index("status"))


def term(kind: Kind, key: str) -> Term | None:
    """The term with ``key`` of the given kind, or None if there is none."""
    if kind not in _SECTIONS:
        raise ValueError(f"unknown taxonomy kind {kind!r}")
    return _index(kind).get(key)


def label(kind: Kind, key: str, lang: str) -> str:
    """Label of ``key`` in ``lang`` (English fallback); an unknown key is returned as is.

    Unknown keys happen legitimately: a team's own categories, or a record synced
    from a newer version of the app.
    """
    found = term(kind, key)
    return found.label(lang) if found is not None else key
