"""The guard under load: two replicas sharing PostgreSQL and Redis never over-redeem."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
from coupon_core import redis_keys
from redis.asyncio import Redis

from .conftest import (
    coupon_in,
    ledger_rows,
    post_signed,
    publish_customer,
    publish_group,
    redeem_body,
)

REDEEM = "/v1.1/coupon/redeem"
IN_FLIGHT = 48


async def _fire(
    http: aiohttp.ClientSession,
    replicas: list[str],
    bodies: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> list[tuple[int, Any]]:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int, body: dict[str, Any]) -> tuple[int, Any]:
        async with gate:
            return await post_signed(
                http, replicas[i % len(replicas)], REDEEM, body, headers=headers
            )

    return await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))


def _codes(results: list[tuple[int, Any]]) -> Counter[int]:
    found: Counter[int] = Counter()
    for status, body in results:
        assert status == 200, body
        found[body["response"]["coupons"]["coupon"]["item_status"]["code"]] += 1
    return found


async def test_hot_coupon_limited_to_100_across_two_replicas(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, settings: Any
) -> None:
    await publish_group(redis, "P:HOT", ["HOT100"], coupon={"usage_limit": 100})
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(1000):
            pipe.set(redis_keys.customer_index("mobile", f"9{n:05d}"), f"cust-{n}")
        await pipe.execute()
    bodies = [redeem_body(coupon_in("HOT100", f"9{i % 1000:05d}")) for i in range(2000)]
    codes = _codes(await _fire(http, replicas, bodies))
    assert codes == Counter({700: 100, 711: 1900})
    rows = await ledger_rows(settings.database_url)
    assert len(rows) == 100
    assert int(await redis.get(redis_keys.redeemed_coupon("P:HOT", "HOT100")) or 0) == 100
    assert int(await redis.get(redis_keys.redeemed_total("P:HOT")) or 0) == 100


async def test_one_customer_100_times_on_a_once_per_customer_coupon(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, settings: Any
) -> None:
    await publish_group(redis, "S:40", ["ONCEPC"], coupon={"per_customer_limit": 1})
    await publish_customer(redis, "solo", mobile="555")
    codes = _codes(await _fire(http, replicas, [redeem_body(coupon_in("ONCEPC", "555"))] * 100))
    assert codes == Counter({700: 1, 723: 99})
    assert len(await ledger_rows(settings.database_url)) == 1


async def test_100_requests_with_one_idempotency_key_make_one_redemption(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, settings: Any
) -> None:
    await publish_group(redis, "S:41", ["IDEM"])
    await publish_customer(redis, "idem", mobile="777")
    results = await _fire(
        http, replicas, [redeem_body(coupon_in("IDEM", "777"))] * 100, {"Idempotency-Key": "k-1"}
    )
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 409}
    assert statuses[200] >= 1
    ids = {
        body["response"]["coupons"]["coupon"]["redemption_id"]
        for status, body in results
        if status == 200
    }
    assert len(ids) == 1
    assert len(await ledger_rows(settings.database_url)) == 1
