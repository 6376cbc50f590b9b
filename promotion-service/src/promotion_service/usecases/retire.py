"""Retiring the Redis keys of dead promotions and coupons: the ``redis_dead_objects``
retention job's step (docs/operations.md, "Retention").

Dead means expired (a coupon's ``expiresAt``) or ended (its promotion's ``endsAt``) more
than the grace period ago. Coupons go first; a promotion goes once none of its coupons is
left. Each batch is one transaction that locks its rows, deletes their keys and marks them
retired, so an edit waiting on a row publishes its facts after the retirement, not before.
Deleted promotions and coupons need nothing here: their facts and registry entries go
with them, and the redemption service drops the counters of codes and groups whose facts
are gone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from coupon_core import retirement
from redis.asyncio import Redis

from promotion_service.db import retirement as retirement_db
from promotion_service.domain.facts import group_of


async def step(pool: asyncpg.Pool, redis: Redis, *, grace: timedelta, limit: int) -> int:
    """Retire up to ``limit`` dead coupons and promotions; how many were retired."""
    cutoff = datetime.now(UTC) - grace
    async with pool.acquire() as conn, conn.transaction():
        coupons = await retirement_db.dead_coupons(conn, cutoff=cutoff, limit=limit)
        by_group: dict[str, list[tuple[str, str | None]]] = {}
        for coupon in coupons:
            by_group.setdefault(group_of(coupon.promotion_code), []).append((coupon.code, None))
        for group, members in by_group.items():
            await retirement.retire_coupons(redis, group, members)
        await retirement_db.mark_coupons(conn, [c.id for c in coupons])
    if len(coupons) >= limit:
        return len(coupons)
    async with pool.acquire() as conn, conn.transaction():
        promotions = await retirement_db.dead_promotions(
            conn, cutoff=cutoff, limit=limit - len(coupons)
        )
        for promotion in promotions:
            await retirement.retire_group(redis, group_of(promotion.code))
        await retirement_db.mark_promotions(conn, [p.id for p in promotions])
    return len(coupons) + len(promotions)


async def lag_s(pool: asyncpg.Pool, *, grace: timedelta) -> float:
    """Seconds the oldest dead object has been waiting past its grace period."""
    async with pool.acquire() as conn:
        return await retirement_db.lag_s(conn, cutoff=datetime.now(UTC) - grace)
