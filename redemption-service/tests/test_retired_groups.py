"""Counters of coupons and groups whose owners retired their keys (the redis_dead_objects
retention job) are not brought back by a reversal or the reconciler."""

from __future__ import annotations

from typing import Any

import aiohttp
from coupon_core import redis_keys, retirement
from coupon_dev.testing.retirement import keys
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
RECONCILE = "/v2/coupon/redemptions/reconcile"


async def _code(http: aiohttp.ClientSession, base: str, code: str, mobile: str) -> int:
    status, body = await post_signed(http, base, REDEEM, redeem_body(coupon_in(code, mobile)))
    assert status == 200, body
    found: int = body["response"]["coupons"]["coupon"]["item_status"]["code"]
    return found


async def test_a_retired_group_keeps_no_counters_after_reversal_and_reconcile(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, settings: Any
) -> None:
    base = replicas[0]
    await publish_group(redis, "P:OLD", ["O1", "O2"])
    for n in range(2):
        await publish_customer(redis, f"c-{n}", mobile=f"10{n}")
    assert [await _code(http, base, "O1", "100"), await _code(http, base, "O2", "101")] == [700] * 2
    assert redis_keys.redemption_warm("P:OLD") in await keys(redis, "{P:OLD}:*")
    rid = next(r["id"] for r in await ledger_rows(settings.database_url) if r["code"] == "O1")
    # The owner retires the promotion: its coupons, then everything under its hash tag.
    await retirement.retire_coupons(redis, "P:OLD", [("O1", None), ("O2", None)])
    await retirement.retire_group(redis, "P:OLD")

    status, body = await post_signed(http, base, f"/v2/coupon/redemptions/{rid}/reverse", {})
    assert status == 200, body
    assert [r["code"] for r in await ledger_rows(settings.database_url)] == ["O2"]
    status, body = await post_signed(http, base, RECONCILE, {})
    assert status == 200, body
    assert body["reconcile"]["drift"] == 0
    assert await keys(redis, "{P:OLD}:*") == set()
    assert await _code(http, base, "O1", "100") == 719  # a retired code is an unknown code


async def test_a_retired_coupon_loses_its_counters_and_its_group_keeps_its_own(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis
) -> None:
    base = replicas[0]
    await publish_group(redis, "S:60", ["K1", "K2"], coupon={"usage_limit": 5})
    for n in range(2):
        await publish_customer(redis, f"c-{n}", mobile=f"10{n}")
    redeemed = [await _code(http, base, code, m) for code, m in (("K1", "100"), ("K1", "101"))]
    assert [*redeemed, await _code(http, base, "K2", "100")] == [700] * 3
    # The owner retires K1, issued to c-0: c-1's counter of it is left for the reconciler.
    await retirement.retire_coupons(redis, "S:60", [("K1", "c-0")])
    assert await keys(redis, "{S:60}:r:*K1*") == {
        redis_keys.redeemed_coupon_by_customer("S:60", "K1", "c-1")
    }

    status, body = await post_signed(http, base, RECONCILE, {})
    assert status == 200, body
    assert body["reconcile"]["drift"] == 0
    assert await keys(redis, "{S:60}:r:*K1*") == set()
    assert await redis.mget(
        [
            redis_keys.redeemed_total("S:60"),
            redis_keys.redeemed_by_customer("S:60", "c-0"),
            redis_keys.redeemed_coupon("S:60", "K2"),
            redis_keys.redeemed_coupon_by_customer("S:60", "K2", "c-0"),
        ]
    ) == [b"3", b"2", b"1", b"1"]
