"""The retirement tests of the services that own coupons (coupon_core.retirement): the keys
a pattern finds, the retention runner's steps, the counters a redemption leaves behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from coupon_core import redis_keys, retirement
from redis.asyncio import Redis


async def keys(redis: Redis, pattern: str) -> set[str]:
    """Every key matching ``pattern``, by SCAN."""
    found = set()
    async for key in redis.scan_iter(match=pattern, count=1000):
        found.add(key.decode() if isinstance(key, bytes) else key)
    return found


@dataclass(frozen=True, slots=True)
class Retirement:
    """An owner's ``redis_dead_objects`` job as its tests drive it."""

    schema: retirement.Schema
    grace: timedelta
    batch: int

    async def run(self, pool: asyncpg.Pool, redis: Redis) -> int:
        """Steps until one retires less than a batch, as the retention runner does; how
        many were retired."""
        total = 0
        while True:
            removed = await retirement.step(
                pool, redis, self.schema, grace=self.grace, limit=self.batch
            )
            total += removed
            if removed < self.batch:
                return total

    async def lag_s(self, pool: asyncpg.Pool) -> float:
        return await retirement.lag_s(pool, self.schema, grace=self.grace)


def redeemed(group: str, code: str, customer: str) -> dict[str, int]:
    """Redemption counters as the redemption service leaves them after ``customer``
    redeemed ``code`` once."""
    return {
        redis_keys.redemption_warm(group): 1,
        redis_keys.redeemed_total(group): 1,
        redis_keys.redeemed_by_customer(group, customer): 1,
        redis_keys.redeemed_coupon(group, code): 1,
        redis_keys.redeemed_coupon_by_customer(group, code, customer): 1,
    }
