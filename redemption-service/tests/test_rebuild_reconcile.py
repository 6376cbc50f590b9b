"""Cold counters are rebuilt from the ledger before they admit anything; drift is repaired."""

from __future__ import annotations

from typing import Any

import aiohttp
from coupon_core import redis_keys
from coupon_core.identity import Principal
from coupon_dev.testing.commands import command_env, run_command
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


async def _code(http: aiohttp.ClientSession, base: str, code: str, mobile: str) -> int:
    status, body = await post_signed(http, base, REDEEM, redeem_body(coupon_in(code, mobile)))
    assert status == 200, body
    found: int = body["response"]["coupons"]["coupon"]["item_status"]["code"]
    return found


async def _setup(redis: Redis) -> None:
    await publish_group(redis, "S:50", ["R1"], coupon={"usage_limit": 3}, per_customer_limit=2)
    for n in range(5):
        await publish_customer(redis, f"c-{n}", mobile=f"10{n}")


async def test_redis_data_loss_rebuilds_from_the_ledger(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, settings: Any
) -> None:
    base = replicas[0]
    await _setup(redis)
    assert [await _code(http, base, "R1", m) for m in ("100", "100", "100")] == [700, 700, 723]
    rid = (await ledger_rows(settings.database_url))[0]["id"]
    status, _ = await post_signed(http, base, f"/v2/coupon/redemptions/{rid}/reverse", {})
    assert status == 200
    await redis.flushall()
    # Without facts, an unknown code is a retryable 503, never a false 719.
    status, _ = await post_signed(http, base, REDEEM, redeem_body(coupon_in("R1", "101")))
    assert status == 503
    await _setup(redis)  # the owners publish their facts again
    await redis.script_flush()
    # Ledger: 1 live redemption by c-0 (one reversed). Two more fit the coupon's limit of 3.
    assert await _code(http, replicas[1], "R1", "101") == 700
    assert await redis.get(redis_keys.redemption_warm("S:50")) is not None
    assert await _code(http, base, "R1", "102") == 700
    assert await _code(http, base, "R1", "103") == 711
    assert int(await redis.get(redis_keys.redeemed_coupon("S:50", "R1")) or 0) == 3
    assert int(await redis.get(redis_keys.redeemed_by_customer("S:50", "c-0")) or 0) == 1


async def test_reconcile_repairs_drift_and_exports_it(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, settings: Any
) -> None:
    base = replicas[0]
    await _setup(redis)
    assert await _code(http, base, "R1", "100") == 700
    await redis.set(redis_keys.redeemed_coupon("S:50", "R1"), 7)  # drift +6
    await redis.set(redis_keys.redeemed_by_customer("S:50", "ghost"), 2)  # stale +2
    status, body = await post_signed(http, base, "/v2/coupon/redemptions/reconcile", {})
    assert status == 200
    assert body["reconcile"]["drift"] == 8
    assert int(await redis.get(redis_keys.redeemed_coupon("S:50", "R1")) or 0) == 1
    assert await redis.get(redis_keys.redeemed_by_customer("S:50", "ghost")) is None
    async with http.get(base + "/metrics") as resp:
        metrics = await resp.text()
    assert "redemption_counter_drift 8.0" in metrics
    assert "redemption_counter_drift_repaired_total 8.0" in metrics
    forbidden, _ = await post_signed(
        http,
        base,
        "/v2/coupon/redemptions/reconcile",
        {},
        principal=Principal("user", "1", "u@example.com"),
    )
    assert forbidden == 403
    # An admin's console session is served like an API token.
    by_staff, _ = await post_signed(
        http,
        base,
        "/v2/coupon/redemptions/reconcile",
        {},
        principal=Principal("staff", "1", "admin@example.com"),
    )
    assert by_staff == 200
    # The command line does the same.
    await redis.set(redis_keys.redeemed_total("S:50"), 5)
    out = await run_command(
        "redemption_service", "reconcile", command_env(settings.database_url, settings.redis_url)
    )
    assert "drift repaired: 4" in out
    assert len(await ledger_rows(settings.database_url)) == 1
