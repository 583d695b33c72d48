"""Times are stored as sortable UTC text; the local offset travels beside them where it matters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
UTC_TEXT_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
"""_FORMAT's text, as the store keeps times and revisions carry them."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return value.astimezone(UTC).strftime(_FORMAT)


def from_utc_text(value: str) -> datetime:
    # fromisoformat is ~50x faster than strptime: it runs for every row a list shows.
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def utc_text(value: str) -> str:
    """Any ISO time as the store keeps it; text already in that form (most) is taken as it is."""
    return value if UTC_TEXT_RE.fullmatch(value) else to_utc_text(from_utc_text(value))


def with_offset(value: datetime, offset_minutes: int) -> datetime:
    return value.astimezone(timezone(timedelta(minutes=offset_minutes)))


def offset_minutes(value: datetime) -> int:
    off = value.utcoffset()
    if off is None:
        raise ValueError("naive datetime: a time zone is required")
    return int(off.total_seconds() // 60)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as fixed-width UTC text: SQL comparisons and ORDER BY are exact."""

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return to_utc_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_utc_text(value)
