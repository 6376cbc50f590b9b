"""The tally of issues: what the issued coupons before a line (the start of an hour) count
per UTC hour and per series, so that a read of the statistics counts only those since
(migration 0007_issue_tally.sql; docs/issuance.md, "Statistics")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from coupon_core.db import Connection

from issuance_service.domain.models import SeriesIssued

_LINE = "(SELECT tallied_until FROM issue_tally)"
_HOUR = "date_trunc('hour', issued_at, 'UTC')"
# The coupons issued since the line, by hour and series: through the BRIN index on
# issued_at, a few block ranges at the end of the table.
RECENT = (
    f"SELECT {_HOUR} AS hour, series_id, count(*) AS issued FROM issued_coupons "
    f"WHERE issued_at >= {_LINE} GROUP BY 1, 2"
)
# $1: the new line; $2: the oldest hour kept in issue_hours. Each hour is counted by the
# one pass that moves the line past it, so issue_hours takes plain inserts.
_ADVANCE = f"""
WITH counted AS (
    SELECT {_HOUR} AS hour, series_id, count(*) AS issued FROM issued_coupons
    WHERE issued_at >= {_LINE} AND issued_at < $1 GROUP BY 1, 2
), hours AS (
    INSERT INTO issue_hours (hour, issued)
    SELECT hour, sum(issued) FROM counted WHERE hour >= $2 GROUP BY hour
), series AS (
    INSERT INTO series_issued (series_id, issued)
    SELECT series_id, sum(issued) FROM counted GROUP BY series_id
    ON CONFLICT (series_id) DO UPDATE SET issued = series_issued.issued + EXCLUDED.issued
), aged AS (
    DELETE FROM issue_hours WHERE hour < $2
)
UPDATE issue_tally SET tallied_until = $1"""
# $1, $2: the series and their issues since the line; $3, $4: how many of each list.
_TOTALS = """
WITH recent AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS r(series_id, issued)
), totals AS (
    SELECT s.id, s.description, s.max_create,
           coalesce(t.issued, 0) + coalesce(r.issued, 0) AS issued
    FROM series s
    LEFT JOIN series_issued t ON t.series_id = s.id
    LEFT JOIN recent r ON r.series_id = s.id
)
(SELECT true AS limited, * FROM totals WHERE max_create >= 0
 ORDER BY CASE WHEN max_create = 0 THEN 1 ELSE issued::float8 / max_create END DESC,
          issued DESC, id
 LIMIT $3)
UNION ALL
(SELECT false, * FROM totals WHERE issued > 0 ORDER BY issued DESC, id LIMIT $4)"""


async def advance(conn: Connection, *, until: datetime, keep_from: datetime) -> bool:
    """Count the coupons issued between the line and ``until`` and move the line there;
    False when it already is there or past it. Inside a transaction: the row lock taken
    first makes a replica's concurrent pass wait, then find the line moved."""
    behind = await conn.fetchval("SELECT tallied_until < $1 FROM issue_tally FOR UPDATE", until)
    if not behind:
        return False
    await conn.execute(_ADVANCE, until, keep_from)
    return True


async def recount(conn: Connection) -> None:
    """Start over: the next pass counts every coupon. For coupons written with past issue
    times by something other than an issue (bench data), which a line already past them
    would leave out. The row lock first: a pass in flight finishes before the tallies go."""
    async with conn.transaction():
        await conn.execute("UPDATE issue_tally SET tallied_until = '-infinity'")
        await conn.execute("TRUNCATE issue_hours, series_issued")


async def recent(conn: Connection) -> list[tuple[datetime, int, int]]:
    """(hour, series id, issues) of the coupons issued since the line."""
    return [(row["hour"], row["series_id"], row["issued"]) for row in await conn.fetch(RECENT)]


async def hours(conn: Connection, since: datetime) -> dict[datetime, int]:
    """The tallied issues of each hour from ``since``."""
    rows = await conn.fetch("SELECT hour, issued FROM issue_hours WHERE hour >= $1", since)
    return {row["hour"]: row["issued"] for row in rows}


async def series_totals(
    conn: Connection, recent: Mapping[int, int], *, limited: int, top: int
) -> tuple[list[SeriesIssued], list[SeriesIssued]]:
    """The series with an issue limit, most of it used first, and the most issued series:
    the tallied issues plus ``recent`` (series id: issues since the line)."""
    rows = await conn.fetch(_TOTALS, list(recent), list(recent.values()), limited, top)
    found: dict[bool, list[SeriesIssued]] = {True: [], False: []}
    for row in rows:
        found[row["limited"]].append(
            SeriesIssued(
                id=row["id"],
                description=row["description"],
                max_create=row["max_create"],
                issued=row["issued"],
            )
        )
    return found[True], found[False]
