"""The redis_dead_objects retention step: keys of series and issued coupons past their
validity for longer than the grace period leave Redis, once, and the republisher does not
bring them back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import asyncpg
import pytest
from coupon_core import code_registry, facts, redis_keys
from coupon_core.lifecycle import redis_from_url
from coupon_dev.testing.poll import until
from coupon_dev.testing.retirement import Retirement, keys, redeemed
from issuance_service.app import create_app
from issuance_service.db.retirement import SCHEMA
from issuance_service.settings import Settings
from redis.asyncio import Redis

RETIREMENT = Retirement(SCHEMA, grace=timedelta(days=30), batch=2)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = cast(Redis, redis_from_url(redis_url))
    yield client
    await client.aclose()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as created:
        yield created


async def issue(api: Any, series_id: int, mobile: str) -> dict[str, Any]:
    resp = await api.post(
        "/v2/coupon/issue", json={"seriesId": series_id, "customer": {"mobile": mobile}}
    )
    assert resp.status == 200, await resp.text()
    issued: dict[str, Any] = await resp.json()
    return issued


class World:
    """Series ``dead`` (valid till 31 days ago, three coupons) and ``live`` with a live
    coupon, one past its validity by 31 days (``gone``) and one by a day (``kept``)."""

    def __init__(self, dead: int, live: int, coupons: dict[str, dict[str, Any]]) -> None:
        self.dead, self.live, self.coupons = f"S:{dead}", f"S:{live}", coupons
        self.dead_id = dead

    def code(self, name: str) -> str:
        return str(self.coupons[name]["code"])

    def customer(self, name: str) -> str:
        return str(self.coupons[name]["customer"]["id"])


async def world(api: Any, redis: Redis, pool: asyncpg.Pool, new_series: Any) -> World:
    ids = []
    for description in ("dead", "live"):
        resp = await api.post("/v2/coupon/series", json=new_series(description=description))
        assert resp.status == 201, await resp.text()
        ids.append((await resp.json())["id"])
    dead, live = ids
    coupons = {f"d{i}": await issue(api, dead, f"90{i}") for i in range(3)}
    coupons.update({name: await issue(api, live, f"80{name}") for name in ("on", "gone", "kept")})
    made = World(dead, live, coupons)
    await redis.mset(redeemed(made.dead, made.code("d0"), made.customer("d0")))
    await redis.mset(redeemed(made.live, made.code("gone"), made.customer("gone")))
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE series SET valid_till_date = now() - interval '31 days' WHERE id = $1", dead
        )
        for name, days in (("gone", 31), ("kept", 1)):
            await conn.execute(
                "UPDATE issued_coupons SET valid_till = now() - make_interval(days => $2) "
                "WHERE code = $1",
                made.code(name),
                days,
            )
    return made


async def test_dead_series_and_coupons_leave_redis_once(
    api: Any, redis: Redis, pool: asyncpg.Pool, new_series: Any
) -> None:
    w = await world(api, redis, pool, new_series)
    dead_keys = await keys(redis, "{" + w.dead + "}:*")
    assert redis_keys.issuance_warm(w.dead) in dead_keys
    assert redis_keys.redemption_warm(w.dead) in dead_keys
    live_before = await keys(redis, "{" + w.live + "}:*")

    lag = await RETIREMENT.lag_s(pool)
    assert timedelta(hours=23) < timedelta(seconds=lag) < timedelta(hours=25)
    assert await RETIREMENT.run(pool, redis) == 3 + 1 + 1  # dead's coupons, "gone", then dead
    assert await RETIREMENT.lag_s(pool) == 0

    assert await keys(redis, "{" + w.dead + "}:*") == set()
    gone, customer = w.code("gone"), w.customer("gone")
    assert live_before - await keys(redis, "{" + w.live + "}:*") == {
        redis_keys.coupon_facts(w.live, gone),
        redis_keys.redeemed_coupon(w.live, gone),
        redis_keys.redeemed_coupon_by_customer(w.live, gone, customer),
    }
    codes = [w.code(name) for name in ("d0", "d1", "d2", "gone", "on", "kept")]
    assert await code_registry.owners_of(redis, codes) == [None] * 4 + [w.live] * 2
    group, coupon = await facts.read(redis, w.live, w.code("kept"))
    assert group is not None
    assert coupon is not None

    owners = await keys(redis, "{C:*}:owner")
    assert await RETIREMENT.run(pool, redis) == 0
    assert await keys(redis, "{C:*}:owner") == owners


async def test_republish_after_redis_loss_leaves_retired_keys_out(
    api: Any, redis: Redis, pool: asyncpg.Pool, new_series: Any
) -> None:
    w = await world(api, redis, pool, new_series)
    await RETIREMENT.run(pool, redis)
    marker = redis_keys.facts_ready("issuance")
    await until(lambda: redis.exists(marker), what="the first publication")
    await redis.flushall()
    await until(lambda: redis.exists(marker), what="the republisher")

    assert await keys(redis, "{" + w.dead + "}:*") == set()
    assert await keys(redis, "{" + w.live + "}:*") == {
        redis_keys.group_facts(w.live),
        redis_keys.coupon_facts(w.live, w.code("on")),
        redis_keys.coupon_facts(w.live, w.code("kept")),
    }
    codes = [w.code(name) for name in ("d0", "gone", "on", "kept")]
    assert await code_registry.owners_of(redis, codes) == [None, None, w.live, w.live]


async def test_the_running_service_retires_dead_keys_on_its_own(
    service_env: dict[str, Any],
    through_gateway: Any,
    redis: Redis,
    pool: asyncpg.Pool,
    new_series: Any,
) -> None:
    settings = Settings(**service_env, retention_interval_s=0.05)
    api = await through_gateway(create_app(settings))
    w = await world(api, redis, pool, new_series)

    async def retired() -> bool:
        dead_series = await pool.fetchval(
            "SELECT retired_at IS NOT NULL FROM series WHERE id = $1", w.dead_id
        )
        _, gone = await facts.read(redis, w.live, w.code("gone"))
        return bool(dead_series) and gone is None

    await until(retired, "the redis_dead_objects retention job")
    assert await keys(redis, "{" + w.dead + "}:*") == set()
    group, coupon = await facts.read(redis, w.live, w.code("kept"))
    assert group is not None
    assert coupon is not None
