"""The seed's redeem example (seed 003), replayed through the real gateway."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from coupon_core.facts import Discount
from redis.asyncio import Redis

from .conftest import publish_customer, publish_group

SEED_REQUEST = {
    "root": {
        "coupon": [
            {
                "code": "UZHYF",
                "customer": {"mobile": "9999988886"},
                "transaction": [{"amount": "5000"}],
            }
        ]
    }
}


async def test_seed_redeem_through_gateway(
    through_gateway: Any, app: web.Application, redis: Redis
) -> None:
    await publish_group(
        redis,
        "S:844312",
        ["UZHYF"],
        discount=Discount(type="ABS", value=46389),
        discount_code="uatNightly4",
        series_code="844312",
    )
    await publish_customer(redis, "c-1", mobile="9999988886")
    client = await through_gateway(app)
    resp = await client.post("/v1.1/coupon/redeem", json=SEED_REQUEST)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"response"}
    assert set(body["response"]) == {"status", "coupons"}
    assert body["response"]["status"] == {"success": "true", "code": 200, "message": "Success"}
    coupon = body["response"]["coupons"]["coupon"]
    assert isinstance(coupon, dict)
    assert list(coupon) == [
        "customer",
        "redemption_id",
        "code",
        "discount_code",
        "series_code",
        "series_info",
        "is_absolute",
        "coupon_value",
        "transaction",
        "side_effects",
        "item_status",
    ]
    assert coupon["customer"] == {"mobile": "9999988886", "email": "", "external_id": ""}
    assert isinstance(coupon["redemption_id"], str)
    assert coupon["redemption_id"].isdigit()
    assert coupon["code"] == "UZHYF"
    assert coupon["discount_code"] == "uatNightly4"
    assert coupon["series_code"] == "844312"
    assert coupon["series_info"] == []
    assert coupon["is_absolute"] == "true"
    # ABS value 46389 on a 5000 transaction: never above the amount.
    assert coupon["coupon_value"] == "5000"
    assert coupon["transaction"] == {"amount": "5000.00", "number": ""}
    assert coupon["side_effects"] == []
    assert coupon["item_status"] == {
        "success": "true",
        "code": 700,
        "message": "Coupon processing successful",
    }


async def test_seed_redeem_with_numeric_amount_and_custom_fields(
    through_gateway: Any, app: web.Application, redis: Redis
) -> None:
    await publish_group(redis, "S:1", ["PERC1"], discount=Discount(type="PERC", value=10, upto=300))
    await publish_customer(redis, "c-2", email="a@example.com")
    client = await through_gateway(app)
    resp = await client.post(
        "/v1.1/coupon/redeem",
        json={
            "root": {
                "coupon": [
                    {
                        "code": "PERC1",
                        "customer": {"email": "A@example.com"},
                        "transaction": [{"number": "T-9", "amount": 2500.5}],
                        "custom_fields": {"field": [{"name": "Sport", "value": "Soccer"}]},
                    }
                ]
            }
        },
    )
    body = await resp.json()
    coupon = body["response"]["coupons"]["coupon"]
    assert coupon["is_absolute"] == "false"
    assert coupon["coupon_value"] == "250.05"
    assert coupon["transaction"] == {"amount": "2500.50", "number": "T-9"}
    resp = await client.post(
        "/v1.1/coupon/redeem",
        json={
            "root": {
                "coupon": [
                    {"code": "PERC1", "customer": {"id": "c-2"}, "transaction": [{"amount": 10000}]}
                ]
            }
        },
    )
    body = await resp.json()
    # PERC 10% of 10000 is 1000, capped by upto 300.
    assert body["response"]["coupons"]["coupon"]["coupon_value"] == "300"
