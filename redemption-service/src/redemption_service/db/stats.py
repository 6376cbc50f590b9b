"""SQL of the redemption statistics (migration 0008; docs/redemption.md, "Statistics"): the
roll-up of the ledger into redemptions per hour and per day and group, the outcome tallies
the replicas flush, and the reads of both plus what the ledger holds past the roll-up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from coupon_core import retention
from coupon_core.db import Connection

from redemption_service.domain.outcomes import Tallies

# The roll-up's next step, its row locked (None: another replica is stepping): from upto
# to at most an hour later, or to where the ledger's next row is when none is before that
# (a stretch without rows is one step), never past now - $1 (statements still in flight).
_MARK = """
SELECT upto, least(ahead, now() - $1::interval) AS next, ahead < now() - $1::interval AS behind
FROM (
    SELECT upto, greatest(upto, date_trunc('hour', coalesce(
        (SELECT min(redeemed_at) FROM redemptions WHERE redeemed_at >= r.upto), 'infinity'
    ), 'UTC')) + interval '1 hour' AS ahead
    FROM redemption_rollup AS r FOR UPDATE SKIP LOCKED
) AS mark
"""

# Add the ledger rows of [$1, $2) per hour and per day and group; move the mark to $2.
_ROLL = """
WITH counted AS (
    SELECT date_trunc('hour', redeemed_at, 'UTC') AS h, group_ref, count(*) AS n
    FROM redemptions WHERE redeemed_at >= $1 AND redeemed_at < $2 GROUP BY 1, 2
), hours AS (
    INSERT INTO redemption_hours AS t (hour, redeemed)
    SELECT h, sum(n) FROM counted GROUP BY h ORDER BY h
    ON CONFLICT (hour) DO UPDATE SET redeemed = t.redeemed + EXCLUDED.redeemed
), days AS (
    INSERT INTO redemption_group_days AS t (day, group_ref, redeemed)
    SELECT (h AT TIME ZONE 'UTC')::date, group_ref, sum(n) FROM counted
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (day, group_ref) DO UPDATE SET redeemed = t.redeemed + EXCLUDED.redeemed
)
UPDATE redemption_rollup SET upto = $2
"""


async def roll_up_step(conn: Connection, *, margin: timedelta) -> bool:
    """Count one step of the ledger into the roll-up, in one transaction; whether more
    steps are due now (False: caught up, or another replica is stepping)."""
    async with conn.transaction():
        mark = await conn.fetchrow(_MARK, margin)
        if mark is None or mark["next"] <= mark["upto"]:
            return False
        await conn.execute(_ROLL, mark["upto"], mark["next"])
    return bool(mark["behind"])


# One flush of a replica's outcome tallies, in key order (replicas flushing at once lock
# the rows in one order).
_ADD_OUTCOMES = """
INSERT INTO redemption_outcomes AS o (day, status, redeemed, n)
SELECT d, s, r, n FROM unnest($1::date[], $2::smallint[], $3::bool[], $4::bigint[])
    AS u(d, s, r, n) ORDER BY d, s, r
ON CONFLICT (day, status, redeemed) DO UPDATE SET n = o.n + EXCLUDED.n
"""


async def add_outcomes(conn: Connection, tallies: Tallies) -> None:
    """Add ``tallies`` to the stored counts (one autocommitted statement)."""
    rows = sorted(tallies.items())
    await conn.execute(
        _ADD_OUTCOMES,
        [d for (d, _, _), _ in rows],
        [s for (_, s, _), _ in rows],
        [r for (_, _, r), _ in rows],
        [n for _, n in rows],
    )


async def rolled_up_to(conn: Connection) -> datetime:
    upto: datetime = await conn.fetchval("SELECT upto FROM redemption_rollup")
    return upto


async def hours_since(conn: Connection, since: datetime) -> dict[datetime, int]:
    rows = await conn.fetch("SELECT hour, redeemed FROM redemption_hours WHERE hour >= $1", since)
    return {r["hour"]: r["redeemed"] for r in rows}


async def days_since(conn: Connection, since: date) -> dict[date, int]:
    rows = await conn.fetch(
        "SELECT day, sum(redeemed)::bigint AS n FROM redemption_group_days WHERE day >= $1 "
        "GROUP BY day",
        since,
    )
    return {r["day"]: r["n"] for r in rows}


async def ledger_since(conn: Connection, since: datetime) -> list[tuple[datetime, str, int]]:
    """``(hour, group, redemptions)`` of the ledger rows from ``since`` (what the roll-up
    has not counted yet: a few minutes of rows)."""
    rows = await conn.fetch(
        "SELECT date_trunc('hour', redeemed_at, 'UTC') AS h, group_ref, count(*) AS n "
        "FROM redemptions WHERE redeemed_at >= $1 GROUP BY 1, 2",
        since,
    )
    return [(r["h"], r["group_ref"], r["n"]) for r in rows]


async def reversals_since(conn: Connection, since: datetime) -> dict[datetime, int]:
    """Reversals per UTC hour from ``since``, from the ledger: its partial index of the
    reversed rows (few) on each attached month."""
    rows = await conn.fetch(
        "SELECT date_trunc('hour', reversed_at, 'UTC') AS h, count(*) AS n FROM redemptions "
        "WHERE reversed_at >= $1 GROUP BY 1",
        since,
    )
    return {r["h"]: r["n"] for r in rows}


async def outcomes_since(conn: Connection, since: date) -> list[tuple[date, int, bool, int]]:
    rows = await conn.fetch(
        "SELECT day, status, redeemed, n FROM redemption_outcomes WHERE day >= $1", since
    )
    return [(r["day"], r["status"], r["redeemed"], r["n"]) for r in rows]


# The groups of one kind ($2: "P:" or "S:") with the most redemptions from day $1: the
# roll-up's days plus the ledger's rows it has not counted yet ($3, $4).
_TOP = """
SELECT group_ref, sum(n)::bigint AS n FROM (
    SELECT group_ref, redeemed AS n FROM redemption_group_days
    WHERE day >= $1 AND starts_with(group_ref, $2)
    UNION ALL
    SELECT g, n FROM unnest($3::text[], $4::bigint[]) AS u(g, n) WHERE starts_with(g, $2)
) AS counted GROUP BY group_ref ORDER BY n DESC, group_ref LIMIT $5
"""


async def top_groups(
    conn: Connection, *, prefix: str, since: date, recent: Mapping[str, int], limit: int
) -> list[tuple[str, int]]:
    rows = await conn.fetch(_TOP, since, prefix, list(recent), list(recent.values()), limit)
    return [(r["group_ref"], r["n"]) for r in rows]


# Retention (workers/retention.py): each table's rows past STATS_RETENTION_DAYS, in batches
# through its primary key, as coupon_core.retention's own jobs.
RETAINED = {
    table: (
        retention.delete_sql(table, f"{column} < now() - $2::interval", column),
        retention.lag_sql(table, column),
    )
    for table, column in (
        ("redemption_hours", "hour"),
        ("redemption_group_days", "day"),
        ("redemption_outcomes", "day"),
    )
}
