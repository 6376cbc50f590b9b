"""Issues counted for the statistics: the tally's passes, and a read that adds the coupons
issued since the tally's line to what it counted (docs/issuance.md, "Statistics").

A pass counts the hours that ended at least :data:`SETTLE` ago. An issue stamps
``issued_at`` (the replica's clock, whole seconds) before it takes its counters and commits,
within a second or so; a coupon committed more than ``SETTLE`` after its stamp (or stamped
by a clock that far behind) into an hour already counted would be missing from the tallies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from coupon_core.timeseries import DAY, MAX_DAYS, Window, hour_of

from issuance_service.db import tally as tally_db
from issuance_service.domain.models import SeriesIssued

SETTLE = timedelta(minutes=10)
# issue_hours keeps what the longest daily window (today and the 89 days before) needs.
KEEP = DAY * (MAX_DAYS + 1)
LIMITED_SERIES = 20
TOP_SERIES = 10


@dataclass(frozen=True, slots=True)
class IssueStats:
    per_hour: dict[datetime, int]  # issues of each UTC hour from the window's start
    limited: list[SeriesIssued]  # series with a maxCreate, most of it used first
    top: list[SeriesIssued]  # the most issued series


async def advance(pool: asyncpg.Pool, *, now: datetime) -> bool:
    """One pass: count the coupons issued up to the start of the hour ``SETTLE`` before
    ``now``; False when another pass already has."""
    until = hour_of(now - SETTLE)
    async with pool.acquire() as conn, conn.transaction():
        return await tally_db.advance(conn, until=until, keep_from=until - KEEP)


async def issue_stats(pool: asyncpg.Pool, window: Window) -> IssueStats:
    """Issues per hour in ``window`` and per series, the tallies and the coupons issued
    since their line read in one snapshot (a pass committing meanwhile is not seen)."""
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        recent = await tally_db.recent(conn)
        per_hour = await tally_db.hours(conn, window.since)
        by_series: dict[int, int] = defaultdict(int)
        for hour, series_id, issued in recent:
            by_series[series_id] += issued
            if hour >= window.since:
                per_hour[hour] = per_hour.get(hour, 0) + issued
        limited, top = await tally_db.series_totals(
            conn, by_series, limited=LIMITED_SERIES, top=TOP_SERIES
        )
    return IssueStats(per_hour=per_hour, limited=limited, top=top)
