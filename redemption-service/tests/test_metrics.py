"""Redemptions by item status, limit rejections, reversals and script latency in /metrics."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from coupon_core.keys import METRICS
from coupon_dev.testing.prometheus import samples
from redis.asyncio import Redis

from .conftest import coupon_in, publish_customer, publish_group, redeem_body


async def test_redeem_and_reverse_metrics(
    through_gateway: Any, app: web.Application, redis: Redis
) -> None:
    await publish_customer(redis, "c-1", mobile="111")
    client = await through_gateway(app)
    await publish_group(redis, "S:31", ["ONCE"], coupon={"usage_limit": 1})
    first = await client.post("/v1.1/coupon/redeem", json=redeem_body(coupon_in("ONCE", "111")))
    assert first.status == 200
    redemption_id = (await first.json())["response"]["coupons"]["coupon"]["redemption_id"]
    again = await client.post("/v1.1/coupon/redeem", json=redeem_body(coupon_in("ONCE", "111")))
    assert again.status == 200
    reversed_ = await client.post(f"/v2/coupon/redemptions/{redemption_id}/reverse", json={})
    assert reversed_.status == 200
    missing = await client.post("/v2/coupon/redemptions/999999/reverse", json={})
    assert missing.status == 404

    found = samples(app[METRICS].render().decode())
    assert found["coupon_redemption_items_total", (("status", "700"),)] == 1
    assert found["coupon_redemption_items_total", (("status", "711"),)] == 1
    assert found["coupon_limit_rejections_total", (("limit", "coupon_usage"),)] == 1
    assert found["coupon_reversals_total", (("outcome", "reversed"),)] == 1
    assert sum(v for (n, labels), v in found.items() if n == "coupon_reversals_total") == 2
    assert found["redis_script_duration_seconds_count", (("script", "guard"),)] >= 2
    assert "redemption_counter_drift" in {name for name, _ in found}
