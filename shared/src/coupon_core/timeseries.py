"""Recent activity counted per hour and per day, in UTC, every bucket present: the windows
of the stats endpoints (``GET /v2/coupon/issue/stats``, ``GET /v2/coupon/redemptions/stats``).

The hourly series ends with the current hour and the daily one with the current day, both
partly elapsed; a bucket with nothing in it is there with a zero, so a chart needs no
arithmetic on dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

MAX_HOURS = 168
MAX_DAYS = 90
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
Bucket = TypeVar("Bucket", datetime, date)


class WindowQuery(BaseModel):
    """``?hours=&days=``, as the stats endpoints read and document them."""

    # Query values are text: numbers are read from it; a parameter not listed is refused.
    model_config = ConfigDict(extra="forbid")

    hours: int = Field(
        default=48,
        ge=1,
        le=MAX_HOURS,
        description="Hours in the hourly series, the current one included (1 to 168).",
    )
    days: int = Field(
        default=30,
        ge=1,
        le=MAX_DAYS,
        description="Days (UTC) in the daily series, today included (1 to 90).",
    )


@dataclass(frozen=True, slots=True)
class Window:
    """The buckets of one answer: the start of each hour and each day, oldest first."""

    hours: tuple[datetime, ...]
    days: tuple[date, ...]

    @property
    def since(self) -> datetime:
        """The start of the oldest bucket of either series: what a query must reach back to."""
        return min(self.hours[0], midnight(self.days[0]))


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour ``moment`` falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def window(*, hours: int, days: int, now: datetime) -> Window:
    current = hour_of(now)
    today = current.date()
    return Window(
        hours=tuple(current - HOUR * back for back in range(hours - 1, -1, -1)),
        days=tuple(today - DAY * back for back in range(days - 1, -1, -1)),
    )


def per_day(per_hour: Iterable[tuple[datetime, int]]) -> dict[date, int]:
    """Counts per UTC hour summed into their UTC days."""
    days: dict[date, int] = {}
    for hour, count in per_hour:
        day = hour.astimezone(UTC).date()
        days[day] = days.get(day, 0) + count
    return days


def filled(buckets: Iterable[Bucket], counts: Mapping[Bucket, int]) -> list[tuple[Bucket, int]]:
    """Each bucket with its count, zero where ``counts`` has none."""
    return [(bucket, counts.get(bucket, 0)) for bucket in buckets]
