"""coupon.redeemed, coupon.redemption_reversed, coupon.activated and limit.reached reach the
stream through the transactional outbox."""

from __future__ import annotations

from typing import Any, cast

import aiohttp
import orjson
from coupon_core import redis_keys
from coupon_core.facts import SubscriptionGrant
from coupon_core.identity import Principal
from coupon_dev.testing.poll import until
from redis.asyncio import Redis

from .conftest import coupon_in, post_signed, publish_customer, publish_group, redeem_body

STREAM = redis_keys.event_stream("redemption")


async def _events(redis: Redis, count: int) -> list[tuple[str, dict[str, Any]]]:
    entries = await until(lambda: _at_least(redis, count), f"{count} events", limit_s=30)
    return [(fields[b"type"].decode(), orjson.loads(fields[b"payload"])) for _, fields in entries]


async def _at_least(redis: Redis, count: int) -> list[Any] | None:
    entries = cast("list[Any]", await redis.xrange(STREAM))
    return entries if len(entries) >= count else None


async def test_outbox_events(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis
) -> None:
    base = replicas[0]
    grant = SubscriptionGrant(subscription_type_id=1, subscription_type_name="m", length_days=7)
    await publish_group(redis, "P:EV", ["EV1", "EV2"], grant=grant)
    await publish_customer(redis, "ev-1", mobile="321")
    paid = [{"number": "T-77", "amount": 80}]
    status, body = await post_signed(
        http, base, "/v1.1/coupon/redeem", redeem_body(coupon_in("EV1", "321", transaction=paid))
    )
    assert status == 200
    rid = body["response"]["coupons"]["coupon"]["redemption_id"]
    status, _ = await post_signed(http, base, f"/v2/coupon/redemptions/{rid}/reverse", {})
    assert status == 200
    status, activated = await post_signed(
        http,
        base,
        "/api/v1/coupon/activate",
        {"code": "EV2", "notifyUser": True},
        principal=Principal("user", "u-9", "u@example.com"),
    )
    assert status == 200
    (t1, redeemed), (t2, reversed_), (t3, activation), (t4, used_up) = await _events(redis, 4)
    assert (t1, t2, t3) == ("coupon.redeemed", "coupon.redemption_reversed", "coupon.activated")
    # An activation uses its coupon up: the limit.reached event written with it.
    assert (t4, used_up["scope"], used_up["code"]) == ("limit.reached", "coupon", "EV2")
    assert redeemed["redemptionId"] == rid
    assert redeemed["code"] == "EV1"
    assert redeemed["group"] == "P:EV"
    assert redeemed["customerId"] == "ev-1"
    assert redeemed["couponValue"] == 80
    assert redeemed["transactionNumber"] == "T-77"
    assert "redeemedAt" in redeemed
    assert reversed_["redemptionId"] == rid
    assert reversed_["customerId"] == "ev-1"
    assert activation["code"] == "EV2"
    assert activation["userId"] == "u-9"
    assert activation["notifyUser"] is True
    assert activation["subscriptionId"] == str(activated["subscription_id"])
