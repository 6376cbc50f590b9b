"""Dry runs take nothing; reversals give back every counter and are idempotent."""

from __future__ import annotations

from typing import Any, cast

import pytest
from aiohttp import web
from coupon_core import redis_keys
from coupon_core.facts import Discount
from redis.asyncio import Redis

from .conftest import coupon_in, publish_customer, publish_group, redeem_body


@pytest.fixture
async def client(through_gateway: Any, app: web.Application, redis: Redis) -> Any:
    await publish_customer(redis, "c-1", mobile="111", external_id="X-1")
    await publish_customer(redis, "c-2", mobile="222")
    return await through_gateway(app)


async def _redeem(client: Any, code: str, mobile: str) -> dict[str, Any]:
    resp = await client.post("/v1.1/coupon/redeem", json=redeem_body(coupon_in(code, mobile)))
    coupon: dict[str, Any] = (await resp.json())["response"]["coupons"]["coupon"]
    return coupon


async def test_v2_dry_run_checks_limits_and_takes_nothing(client: Any, redis: Redis) -> None:
    await publish_group(
        redis,
        "S:20",
        ["G1", "G2"],
        coupon={"usage_limit": 1},
        discount=Discount(type="PERC", value=10, upto=50),
        series_code="20",
        discount_code="TEN",
    )
    resp = await client.get("/v2/coupon/is_redeemable?code=G1,G2,NOPE&mobile=111&amount=1000")
    assert resp.status == 200
    body = await resp.json()
    assert body["warnings"] == []
    first, second, third = body["redemption"]
    assert first["code"] == "G1"
    assert first["isRedeemable"] is True
    assert first["errorCode"] == 700
    assert first["couponseries"]["discountCode"] == "TEN"
    assert first["couponValue"] == "50"
    assert second["isRedeemable"] is True
    assert third == {
        "code": "NOPE",
        "isRedeemable": False,
        "errorCode": 719,
        "errorMessage": "Coupon code does not exist",
        "couponValue": "0",
        "couponseries": {},
    }
    # Asking twice changes nothing: the check took no counter.
    again = await (await client.get("/v2/coupon/is_redeemable?code=G1&mobile=111")).json()
    assert again["redemption"][0]["isRedeemable"] is True
    assert await redis.get(redis_keys.redeemed_coupon("S:20", "G1")) is None
    assert (await _redeem(client, "G1", "111"))["item_status"]["code"] == 700
    after = await (await client.get("/v2/coupon/is_redeemable?code=G1&externalId=X-1")).json()
    assert after["redemption"][0]["errorCode"] == 711
    assert after["redemption"][0]["isRedeemable"] is False


async def test_v11_dry_run(client: Any, redis: Redis) -> None:
    await publish_group(redis, "S:21", ["H1"], min_amount=100)
    ok = await (await client.get("/v1.1/coupon/isredeemable?code=H1&mobile=111&amount=150")).json()
    assert ok["response"]["status"]["code"] == 200
    assert ok["response"]["coupons"]["redeemable"]["is_redeemable"] == "true"
    low = await (await client.get("/v1.1/coupon/isredeemable?code=H1&mobile=111&amount=50")).json()
    assert low["response"]["coupons"]["redeemable"]["item_status"]["code"] == 724
    bad = await client.get("/v1.1/coupon/isredeemable?code=H1&mobile=111&amount=x")
    assert bad.status == 400
    assert (await bad.json())["response"]["status"]["code"] == 400
    missing = await client.get("/v2/coupon/is_redeemable?mobile=111")
    assert missing.status == 400
    assert (await missing.json())["errors"][0]["code"] == 400


async def test_reversal_gives_back_every_counter_once(client: Any, redis: Redis) -> None:
    await publish_group(
        redis, "S:22", ["J1"], coupon={"usage_limit": 1}, total_limit=1, per_customer_limit=1
    )
    redeemed = await _redeem(client, "J1", "111")
    rid = redeemed["redemption_id"]
    assert (await _redeem(client, "J1", "111"))["item_status"]["code"] == 711
    resp = await client.post(f"/v2/coupon/redemptions/{rid}/reverse", json={"reason": "refund"})
    assert resp.status == 200
    first = await resp.json()
    assert first["reversal"]["redemptionId"] == rid
    assert first["reversal"]["reason"] == "refund"
    keys = [
        redis_keys.redeemed_coupon("S:22", "J1"),
        redis_keys.redeemed_coupon_by_customer("S:22", "J1", "c-1"),
        redis_keys.redeemed_total("S:22"),
        redis_keys.redeemed_by_customer("S:22", "c-1"),
    ]
    assert [int(v) for v in cast("list[bytes]", await redis.mget(keys))] == [0, 0, 0, 0]
    again = await client.post(f"/v2/coupon/redemptions/{rid}/reverse")
    assert again.status == 200
    assert await again.json() == first
    assert [int(v) for v in cast("list[bytes]", await redis.mget(keys))] == [0, 0, 0, 0]
    assert (await _redeem(client, "J1", "222"))["item_status"]["code"] == 700


async def test_reversal_of_unknown_redemption_is_404(client: Any) -> None:
    for rid in ("999999", "abc", "%C2%B9", "9" * 30):
        resp = await client.post(f"/v2/coupon/redemptions/{rid}/reverse")
        assert resp.status == 404
        body = await resp.json()
        assert body["errors"][0]["code"] == 404
        assert body["warnings"] == []
