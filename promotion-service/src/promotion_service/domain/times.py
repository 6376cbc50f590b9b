"""Dates in (``YYYY-MM-DD`` or ISO 8601) and out (ISO 8601 with a ``+hhmm`` offset)."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from coupon_core.dates import in_utc_range

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_date(value: str, zone: tzinfo) -> datetime:
    """A point in time; a date or a time without offset is read in ``zone``.

    Raises ValueError for anything else."""
    text = value.strip()
    if not (_DATE_ONLY.match(text) or _ISO.match(text)):
        raise ValueError(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        in_utc_range(parsed)
    except ValueError:
        raise ValueError(text) from None
    return parsed


def format_date(value: datetime, zone: tzinfo) -> str:
    """``2020-01-01T00:00:00+0100``, as Sylius writes dates."""
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S%z")


def unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())
