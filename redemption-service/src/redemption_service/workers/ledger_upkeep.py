"""The ledger's two retention jobs (docs/redemption.md, "The ledger at volume"):

- ``ledger_partitions`` keeps a partition for the current month and LEDGER_PARTITIONS_AHEAD
  months ahead, so redeems never fall into the default partition;
- ``ledger_archive`` (LEDGER_ONLINE_MONTHS > 0) rolls up, detaches and renames each month
  that ended more than LEDGER_ONLINE_MONTHS months ago. Reversals of those months are
  refused from the moment they fall past it (usecases/reverse.py).

One unit is one month; each is its own transaction under LEDGER_LOCK_TIMEOUT_MS. A lock not
granted in time ends the step quietly and the next retention pass tries again.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import asyncpg
from coupon_core.db import Connection
from coupon_core.retention import Job
from prometheus_client import CollectorRegistry, Gauge

from redemption_service.db import partitions
from redemption_service.db.partitions import add_months, month_start
from redemption_service.settings import Settings

log = logging.getLogger(__name__)

# The default-partition gauge counts this far at most (it is meant to read 0).
DEFAULT_ROWS_CAP = 1_000_000


class LedgerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.default_rows = Gauge(
            "ledger_default_partition_rows",
            "Ledger rows in the default partition: written for a month that had no partition "
            f"(counted up to {DEFAULT_ROWS_CAP}; alert when above 0).",
            registry=registry,
        )


def _wanted(month: date, ahead: int) -> list[date]:
    return [add_months(month, n) for n in range(ahead + 1)]


async def create_months_ahead(
    pool: asyncpg.Pool, *, ahead: int, limit: int, lock_timeout_ms: int
) -> int:
    """Create at most ``limit`` missing partitions of the current month and ``ahead``
    months after it; how many it created."""
    created = 0
    async with pool.acquire() as conn:
        have = set(await partitions.attached_months(conn))
        missing = [m for m in _wanted(await partitions.current_month(conn), ahead) if m not in have]
        for month in missing[:limit]:
            try:
                moved = await partitions.create_month(conn, month, lock_timeout_ms=lock_timeout_ms)
            except asyncpg.LockNotAvailableError:
                log.warning("ledger partition %s: lock not granted in time; next pass", month)
                break
            if moved is None:
                continue
            created += 1
            if moved:
                log.warning("ledger partition %s created with %d rows from default", month, moved)
    return created


async def missing_lag(pool: asyncpg.Pool, *, ahead: int, metrics: LedgerMetrics) -> float:
    """Seconds since the earliest missing month was due (``ahead`` months before it
    starts); 0 when none is missing. Also refreshes the default-partition gauge."""
    async with pool.acquire() as conn:
        metrics.default_rows.set(await partitions.default_rows(conn, DEFAULT_ROWS_CAP))
        have = set(await partitions.attached_months(conn))
        missing = [m for m in _wanted(await partitions.current_month(conn), ahead) if m not in have]
    if not missing:
        return 0.0
    due = month_start(add_months(missing[0], -ahead))
    return max(0.0, (datetime.now(UTC) - due).total_seconds())


async def _past_online(conn: Connection, online_months: int) -> list[date]:
    """Attached months that ended more than ``online_months`` months ago, oldest first."""
    cutoff = add_months(await partitions.current_month(conn), -online_months)
    return [m for m in await partitions.attached_months(conn) if m < cutoff]


async def archive_old_months(
    pool: asyncpg.Pool, *, online_months: int, limit: int, lock_timeout_ms: int
) -> int:
    """Archive at most ``limit`` months past ``online_months``; how many it archived."""
    if online_months <= 0:
        return 0
    archived = 0
    async with pool.acquire() as conn:
        for month in (await _past_online(conn, online_months))[:limit]:
            try:
                done = await partitions.archive_month(conn, month, lock_timeout_ms=lock_timeout_ms)
            except asyncpg.LockNotAvailableError:
                log.warning("ledger archive of %s: lock not granted in time; next pass", month)
                break
            archived += 1
            log.info("ledger month %s archived as %s (%d live)", month, done.table, done.live)
    return archived


async def archive_lag(pool: asyncpg.Pool, *, online_months: int) -> float:
    """Seconds since the oldest month still attached past ``online_months`` became due for
    archiving; 0 when none is."""
    if online_months <= 0:
        return 0.0
    async with pool.acquire() as conn:
        due = await _past_online(conn, online_months)
    if not due:
        return 0.0
    since = month_start(add_months(due[0], 1 + online_months))
    return max(0.0, (datetime.now(UTC) - since).total_seconds())


def ledger_jobs(pool: asyncpg.Pool, settings: Settings, metrics: LedgerMetrics) -> list[Job]:
    ahead = settings.ledger_partitions_ahead
    online = settings.ledger_online_months
    timeout_ms = settings.ledger_lock_timeout_ms

    async def create(limit: int) -> int:
        return await create_months_ahead(pool, ahead=ahead, limit=limit, lock_timeout_ms=timeout_ms)

    async def create_lag() -> float:
        return await missing_lag(pool, ahead=ahead, metrics=metrics)

    async def archive(limit: int) -> int:
        return await archive_old_months(
            pool, online_months=online, limit=limit, lock_timeout_ms=timeout_ms
        )

    async def lag() -> float:
        return await archive_lag(pool, online_months=online)

    return [
        Job(name="ledger_partitions", step=create, lag=create_lag),
        Job(name="ledger_archive", step=archive, lag=lag),
    ]
