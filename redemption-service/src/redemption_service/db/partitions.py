"""DDL of the ledger's monthly partitions (migration 0005): create a month, archive a month.

Partition and table names come from dates, never from input; the bounds are UTC midnights.
Each operation is one transaction under ``lock_timeout``: a lock not granted in time raises
:class:`asyncpg.LockNotAvailableError` and nothing is changed, so redeems never queue long
behind a DDL statement waiting for its lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from coupon_core.db import Connection

DEFAULT = "redemptions_default"
_NAME = re.compile(r"^redemptions_(\d{4})_(\d{2})$")


def add_months(month: date, n: int) -> date:
    """The first day of the month ``n`` months after ``month``'s."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"redemptions_{month:%Y_%m}"


def archive_name(month: date) -> str:
    return f"redemptions_archive_{month:%Y_%m}"


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


async def current_month(conn: Connection) -> date:
    """The current month by the database's clock, in UTC."""
    found: date = await conn.fetchval("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date")
    return found


async def attached_months(conn: Connection) -> list[date]:
    """The months that have a partition attached, in order (the default one aside)."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'redemptions'::regclass"
    )
    found = (_NAME.match(r["relname"]) for r in rows)
    return sorted(date(int(m[1]), int(m[2]), 1) for m in found if m is not None)


async def default_rows(conn: Connection, cap: int) -> int:
    """Rows in the default partition (counted up to ``cap``): rows of a month that had no
    partition when they were written. Expected 0."""
    found: int = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM {DEFAULT} LIMIT $1) AS d", cap
    )
    return found


async def _set_lock_timeout(conn: Connection, lock_timeout_ms: int) -> None:
    await conn.execute("SELECT set_config('lock_timeout', $1, true)", f"{lock_timeout_ms}ms")


async def create_month(conn: Connection, month: date, *, lock_timeout_ms: int) -> int | None:
    """Create ``month``'s partition, with the rows the default partition holds for it moved
    in; how many were moved, or None when the partition already exists.

    The table is made on its own and then ATTACHed, which takes SHARE UPDATE EXCLUSIVE on
    ``redemptions`` (redeems go on) rather than the ACCESS EXCLUSIVE of ``CREATE TABLE ..
    PARTITION OF``; the default partition is locked throughout, so that no row of the month
    lands there between the move and the attach (which checks it holds none)."""
    name = partition_name(month)
    low, high = month_start(month), month_start(add_months(month, 1))
    async with conn.transaction():
        await _set_lock_timeout(conn, lock_timeout_ms)
        if await conn.fetchval("SELECT to_regclass($1)", name) is not None:
            return None
        await conn.execute(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
        await conn.execute(f"CREATE TABLE {name} (LIKE redemptions INCLUDING DEFAULTS)")
        status = await conn.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE redeemed_at >= $1 AND "
            f"redeemed_at < $2 RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            low,
            high,
        )
        await conn.execute(
            f"ALTER TABLE redemptions ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )
    return int(status.rsplit(" ", 1)[-1])


@dataclass(frozen=True, slots=True)
class ArchivedMonth:
    month: date
    table: str
    live: int  # live redemptions rolled up


# Adds the month's live uses to redemption_rollups; returns how many there were.
_ROLL_UP = """
WITH month AS (
    SELECT group_ref, code, customer_id, count(*) AS n FROM {table}
    WHERE reversed_at IS NULL GROUP BY group_ref, code, customer_id
), added AS (
    INSERT INTO redemption_rollups AS r (group_ref, code, customer_id, uses)
    SELECT group_ref, code, customer_id, n FROM month
    ON CONFLICT (group_ref, code, customer_id) DO UPDATE SET uses = r.uses + EXCLUDED.uses
)
SELECT coalesce(sum(n), 0)::bigint FROM month
"""


async def archive_month(conn: Connection, month: date, *, lock_timeout_ms: int) -> ArchivedMonth:
    """Roll ``month``'s live redemptions up into ``redemption_rollups``, DETACH its
    partition and rename it ``redemptions_archive_YYYY_MM``, in one transaction.

    The SHARE lock on the month waits for its writers in flight (a reversal that passed its
    cutoff check just before the month fell past it) and admits no new one; it does not
    stop redeems, which write to the current month. ``redemptions`` itself is locked (ACCESS
    EXCLUSIVE) only by the DETACH at the end, until the commit."""
    table = partition_name(month)
    archive = archive_name(month)
    async with conn.transaction():
        await _set_lock_timeout(conn, lock_timeout_ms)
        await conn.execute(f"LOCK TABLE {table} IN SHARE MODE")
        live: int = await conn.fetchval(_ROLL_UP.format(table=table))
        await conn.execute(
            "INSERT INTO redemption_archives (month, table_name, min_id, max_id, live_count) "
            f"SELECT $1, $2, min(id), max(id), $3 FROM {table}",
            month,
            archive,
            live,
        )
        await conn.execute(f"ALTER TABLE redemptions DETACH PARTITION {table}")
        await conn.execute(f"ALTER TABLE {table} RENAME TO {archive}")
    return ArchivedMonth(month=month, table=archive, live=live)
