"""The span of time a stored date may take: PostgreSQL and the Unix-seconds facts in Redis
both need a year well inside 1..9999, and a coupon before 1970 has no Unix time."""

from __future__ import annotations

from datetime import UTC, datetime

FIRST_YEAR, LAST_YEAR = 1970, 9998


def in_utc_range(value: datetime) -> datetime:
    """``value`` in UTC (a naive one read as UTC); ValueError outside years 1970 to 9998."""
    try:
        # 0001-01-01T00:00+08:00 is before year 1 in UTC: OverflowError, not ValueError.
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range") from None
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"{value.isoformat()} is out of range")
    return utc


def iso_or_none(value: datetime | None) -> str | None:
    """``value`` as the APIs write a time (ISO 8601), or None for no time."""
    return value.isoformat() if value is not None else None
