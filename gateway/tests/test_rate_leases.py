"""A burst of one principal's requests shares this replica's leases instead of burning its
budget one lease per request (a real Redis, the gateway's own script)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from coupon_core.lifecycle import RedisClient
from gateway.ratelimit import RateLimiter, lease_size
from redis.asyncio import Redis

LIMIT = 6_000
BURST = 1_500


async def _burst(limiter: RateLimiter, key: str, count: int) -> list[bool]:
    results = await asyncio.gather(*(limiter.admit(key, LIMIT) for _ in range(count)))
    return [admitted for admitted, _ in results]


async def test_a_burst_below_the_limit_is_admitted_whole(redis_client: RedisClient) -> None:
    limiter = RateLimiter(cast(Redis, redis_client))
    admitted = await _burst(limiter, "gw:rl:{api_token:burst}", BURST)
    assert admitted.count(True) == BURST
    # Only what was leased left the shared budget: about one lease beyond what was used.
    used = int(await redis_client.get("gw:rl:{api_token:burst}") or 0)
    assert BURST <= used <= BURST + lease_size(LIMIT)


async def test_an_exhausted_window_refuses_without_asking_redis(
    redis_client: RedisClient,
) -> None:
    limiter = RateLimiter(cast(Redis, redis_client))
    key = "gw:rl:{api_token:spent}"
    first = await _burst(limiter, key, LIMIT + 100)
    assert first.count(True) == LIMIT
    calls = 0
    script = limiter._script

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await script(*args, **kwargs)

    limiter._script = counted  # type: ignore[assignment]
    again = await _burst(limiter, key, 200)
    assert again.count(True) == 0
    assert calls == 0
