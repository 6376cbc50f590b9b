"""The redis_dead_objects retention step: keys of promotions and coupons dead for longer than
the grace period leave Redis, once, and the republisher does not bring them back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from coupon_core import code_registry, facts, redis_keys
from coupon_dev.testing.poll import until
from coupon_dev.testing.retirement import Retirement, keys, redeemed
from promotion_service.db.retirement import SCHEMA
from redis.asyncio import Redis

RETIREMENT = Retirement(SCHEMA, grace=timedelta(days=30), batch=5)
DEAD, LIVE = "P:OVER", "P:RUNNING"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as created:
        yield created


async def setup_dead_and_live(
    api: Any, redis: Redis, pool: asyncpg.Pool, new_promotion: Any
) -> None:
    """OVER ended 31 days ago (two coupons and 20 generated); RUNNING is live with a live
    coupon L1, a coupon LX expired 31 days ago and LY expired yesterday (still in grace)."""
    await new_promotion(api, "OVER")
    await new_promotion(api, "RUNNING")
    for code in ("D1", "D2"):
        assert (
            await api.post("/api/v1/promotions/OVER/coupons/", json={"code": code})
        ).status == 201
    generated = await api.post("/api/v1/promotions/OVER/coupons/generate", json={"amount": 20})
    assert generated.status == 201
    for code in ("L1", "LX", "LY"):
        assert (
            await api.post("/api/v1/promotions/RUNNING/coupons/", json={"code": code})
        ).status == 201
    await redis.mset(redeemed(DEAD, "D1", "7"))  # one group (one slot) per MSET
    await redis.mset(redeemed(LIVE, "LX", "7"))
    await redis.set(redis_keys.redeemed_coupon(LIVE, "L1"), 1)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE promotions SET ends_at = now() - interval '31 days' WHERE code = 'OVER'"
        )
        await conn.execute(
            "UPDATE coupons SET expires_at = now() - interval '31 days' WHERE code = 'LX'"
        )
        await conn.execute(
            "UPDATE coupons SET expires_at = now() - interval '1 day' WHERE code = 'LY'"
        )


async def test_dead_promotions_and_coupons_leave_redis_once(
    api: Any, redis: Redis, pool: asyncpg.Pool, new_promotion: Any
) -> None:
    await setup_dead_and_live(api, redis, pool, new_promotion)
    assert len(await keys(redis, "{P:OVER}:*")) == 1 + 22 + 5
    live_before = await keys(redis, "{P:RUNNING}:*")
    owners_before = await keys(redis, "{C:*}:owner")
    assert len(owners_before) == 25

    lag = await RETIREMENT.lag_s(pool)
    assert timedelta(hours=23) < timedelta(seconds=lag) < timedelta(hours=25)  # OVER, LX
    assert await RETIREMENT.run(pool, redis) == 22 + 1 + 1  # OVER's coupons, LX, then OVER
    assert await RETIREMENT.lag_s(pool) == 0

    assert await keys(redis, "{P:OVER}:*") == set()
    assert live_before - await keys(redis, "{P:RUNNING}:*") == {
        redis_keys.coupon_facts(LIVE, "LX"),
        redis_keys.redeemed_coupon(LIVE, "LX"),
    }
    owners = await keys(redis, "{C:*}:owner")
    assert owners == {redis_keys.code_owner(code) for code in ("L1", "LX", "LY")} - {
        redis_keys.code_owner("LX")
    }
    group, coupon = await facts.read(redis, LIVE, "LY")
    assert group is not None
    assert coupon is not None
    assert await redis.get(redis_keys.redeemed_total(LIVE)) == b"1"

    assert await RETIREMENT.run(pool, redis) == 0
    assert await keys(redis, "{C:*}:owner") == owners


async def test_republish_after_redis_loss_leaves_retired_keys_out(
    api: Any, redis: Redis, pool: asyncpg.Pool, new_promotion: Any
) -> None:
    await setup_dead_and_live(api, redis, pool, new_promotion)
    await RETIREMENT.run(pool, redis)
    marker = redis_keys.facts_ready("promotion")
    await until(lambda: redis.exists(marker))
    await redis.flushall()
    await until(lambda: redis.exists(marker))

    assert await keys(redis, "{P:OVER}:*") == set()
    assert await keys(redis, "{P:RUNNING}:*") == {
        redis_keys.group_facts(LIVE),
        redis_keys.coupon_facts(LIVE, "L1"),
        redis_keys.coupon_facts(LIVE, "LY"),
    }
    assert await code_registry.owners_of(redis, ["L1", "LY", "LX", "D1"]) == [
        LIVE,
        LIVE,
        None,
        None,
    ]


async def test_an_edit_brings_a_retired_coupon_back(
    api: Any, redis: Redis, pool: asyncpg.Pool, new_promotion: Any
) -> None:
    await setup_dead_and_live(api, redis, pool, new_promotion)
    await RETIREMENT.run(pool, redis)
    changed = await api.patch(
        "/api/v1/promotions/RUNNING/coupons/LX", json={"expiresAt": "2099-01-01"}
    )
    assert changed.status == 204, await changed.text()

    assert await RETIREMENT.run(pool, redis) == 0
    _, coupon = await facts.read(redis, LIVE, "LX")
    assert coupon is not None
