"""Retiring the Redis keys of dead series and issued coupons: the ``redis_dead_objects``
retention job's step (docs/operations.md, "Retention").

Dead means past its validity (a coupon's ``valid_till``, a series' ``validTillDate``) by
more than the grace period. Coupons go first; a series goes once none of its coupons is
left, with every key under its hash tag (facts, redemption and issuance counters, warm
markers). Each batch is one transaction that locks its rows, deletes their keys and marks
them retired, so a series edit waiting on its row publishes after the retirement.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from coupon_core import keyspace, retirement
from redis.asyncio import Redis

from issuance_service.db import retirement as retirement_db


async def step(pool: asyncpg.Pool, redis: Redis, *, grace: timedelta, limit: int) -> int:
    """Retire up to ``limit`` dead coupons and series; how many were retired."""
    cutoff = datetime.now(UTC) - grace
    async with pool.acquire() as conn, conn.transaction():
        coupons = await retirement_db.dead_coupons(conn, cutoff=cutoff, limit=limit)
        by_group: dict[str, list[tuple[str, str | None]]] = {}
        for coupon in coupons:
            group = keyspace.group_ref(keyspace.SERIES, coupon.series_id)
            by_group.setdefault(group, []).append((coupon.code, str(coupon.customer_id)))
        for group, members in by_group.items():
            await retirement.retire_coupons(redis, group, members)
        await retirement_db.mark_coupons(conn, [c.id for c in coupons])
    if len(coupons) >= limit:
        return len(coupons)
    async with pool.acquire() as conn, conn.transaction():
        series_ids = await retirement_db.dead_series(
            conn, cutoff=cutoff, limit=limit - len(coupons)
        )
        for series_id in series_ids:
            await retirement.retire_group(redis, keyspace.group_ref(keyspace.SERIES, series_id))
        await retirement_db.mark_series(conn, series_ids)
    return len(coupons) + len(series_ids)


async def lag_s(pool: asyncpg.Pool, *, grace: timedelta) -> float:
    """Seconds the oldest dead object has been waiting past its grace period."""
    async with pool.acquire() as conn:
        return await retirement_db.lag_s(conn, cutoff=datetime.now(UTC) - grace)
