"""Every item status of SPEC section 5, top-level statuses, modes and bad input."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from coupon_core import redis_keys
from coupon_core.facts import Discount
from redemption_service.api.responses import RedeemOut
from redis.asyncio import Redis

from .conftest import coupon_in, mark_facts_ready, publish_customer, publish_group, redeem_body

NOW = int(time.time())
PAST = NOW - 86_400
FUTURE = NOW + 86_400


@pytest.fixture
async def client(through_gateway: Any, app: web.Application, redis: Redis) -> Any:
    await publish_customer(redis, "c-1", mobile="111")
    await publish_customer(redis, "c-2", mobile="222")
    return await through_gateway(app)


async def redeem(client: Any, *coupons: dict[str, Any], mode: str = "") -> dict[str, Any]:
    resp = await client.post(
        "/v1.1/coupon/redeem" + (f"?mode={mode}" if mode else ""), json=redeem_body(*coupons)
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    # The view builds the answer as plain values on the hot path: every answer of every
    # item status and mode must still be exactly what its documented model sends.
    assert RedeemOut.model_validate(body).body() == body
    return body


def item(body: dict[str, Any], index: int = 0) -> dict[str, Any]:
    coupons = body["response"]["coupons"]["coupon"]
    found: dict[str, Any] = coupons if isinstance(coupons, dict) else coupons[index]
    return found


def code_of(body: dict[str, Any], index: int = 0) -> int:
    status: int = item(body, index)["item_status"]["code"]
    return status


# (group fields, coupon fields, request extras, mobile, expected code)
SINGLE_CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str, int]] = {
    "701 unknown customer": ({}, {}, {}, "999", 701),
    "703 not issued to anyone": ({"any_user": False}, {}, {}, "111", 703),
    "710 issued to another customer": ({"any_user": False}, {"customer_id": "c-2"}, {}, "111", 710),
    "700 issued to this customer": ({"any_user": False}, {"customer_id": "c-1"}, {}, "111", 700),
    "712 series ended": ({"ends_at": PAST}, {}, {}, "111", 712),
    "712 series not started": ({"starts_at": FUTURE}, {}, {}, "111", 712),
    "713 coupon expired": ({}, {"expires_at": PAST}, {}, "111", 713),
    "718 transaction number required": ({"require_transaction_number": True}, {}, {}, "111", 718),
    "718 satisfied": (
        {"require_transaction_number": True},
        {},
        {"transaction": [{"number": "T1", "amount": "10"}]},
        "111",
        700,
    ),
    "724 minimum amount": ({"min_amount": 6000}, {}, {}, "111", 724),
}


@pytest.mark.parametrize("case", list(SINGLE_CASES))
async def test_single_coupon_status(client: Any, redis: Redis, case: str) -> None:
    group_fields, coupon_fields, extras, mobile, expected = SINGLE_CASES[case]
    await publish_group(redis, "S:10", ["CODE1"], coupon=coupon_fields, **group_fields)
    body = await redeem(client, coupon_in("CODE1", mobile, **extras))
    assert code_of(body) == expected
    ok = expected == 700
    assert item(body)["item_status"]["success"] == ("true" if ok else "false")
    assert body["response"]["status"]["code"] == (200 if ok else 500)
    assert (item(body)["redemption_id"] != "") is ok


async def test_719_unknown_code_and_702_code_without_facts(client: Any, redis: Redis) -> None:
    await mark_facts_ready(redis)
    assert code_of(await redeem(client, coupon_in("NOPE", "111"))) == 719
    await redis.set(redis_keys.code_owner("HALF"), "S:77")  # owned, but no facts published
    assert code_of(await redeem(client, coupon_in("HALF", "111"))) == 702


async def test_unknown_code_after_cache_loss_is_retryable_503(client: Any) -> None:
    resp = await client.post("/v1.1/coupon/redeem", json=redeem_body(coupon_in("NOPE", "111")))
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    status = (await resp.json())["response"]["status"]
    assert status["success"] == "false"
    assert status["code"] == 503


async def test_711_coupon_used_up(client: Any, redis: Redis) -> None:
    await publish_group(redis, "S:11", ["ONCE"], coupon={"usage_limit": 1})
    assert code_of(await redeem(client, coupon_in("ONCE", "111"))) == 700
    assert code_of(await redeem(client, coupon_in("ONCE", "222"))) == 711


async def test_714_group_total_reached(client: Any, redis: Redis) -> None:
    await publish_group(redis, "S:12", ["A1", "A2"], total_limit=1)
    assert code_of(await redeem(client, coupon_in("A1", "111"))) == 700
    assert code_of(await redeem(client, coupon_in("A2", "222"))) == 714


async def test_723_per_customer_limits(client: Any, redis: Redis) -> None:
    await publish_group(redis, "S:13", ["B1", "B2"], per_customer_limit=1)
    await publish_group(redis, "P:PROMO", ["C1"], coupon={"per_customer_limit": 1})
    assert code_of(await redeem(client, coupon_in("B1", "111"))) == 700
    # Another identifier of the same customer counts as the same customer.
    await publish_customer(redis, "c-1", mobile="111", email="one@example.com")
    other = {"code": "B2", "customer": {"email": "one@example.com"}}
    assert code_of(await redeem(client, other)) == 723
    assert code_of(await redeem(client, coupon_in("B2", "222"))) == 700
    assert code_of(await redeem(client, coupon_in("C1", "111"))) == 700
    assert code_of(await redeem(client, coupon_in("C1", "111"))) == 723
    assert code_of(await redeem(client, coupon_in("C1", "222"))) == 700


async def test_716_same_coupon_twice_and_all_or_nothing(
    client: Any, redis: Redis, settings: Any
) -> None:
    await publish_group(redis, "S:14", ["D1", "D2"])
    body = await redeem(
        client, coupon_in("D1", "111"), coupon_in("D2", "111"), coupon_in("D1", "111")
    )
    assert [code_of(body, i) for i in range(3)] == [700, 700, 716]
    assert body["response"]["status"] == {
        "success": "false",
        "code": 500,
        "message": "All requests have failed due to errors",
    }
    assert all(item(body, i)["redemption_id"] == "" for i in range(3))
    assert item(body, 0)["item_status"]["success"] == "false"
    assert await _ledger_count(settings) == 0
    assert await redis.get(redis_keys.redeemed_total("S:14")) is None


async def test_partial_mode_redeems_the_ones_that_pass(
    client: Any, redis: Redis, settings: Any
) -> None:
    await publish_group(redis, "S:15", ["E1"], coupon={"usage_limit": 1})
    await publish_group(redis, "P:SUMMER", ["E2"], discount=Discount(type="PERC", value=5))
    assert code_of(await redeem(client, coupon_in("E1", "111"))) == 700
    body = await redeem(client, coupon_in("E1", "222"), coupon_in("E2", "222"), mode="partial")
    assert [code_of(body, i) for i in range(2)] == [711, 700]
    assert body["response"]["status"] == {
        "success": "true",
        "code": 201,
        "message": "Some requests have failed due to errors",
    }
    assert item(body, 1)["coupon_value"] == "250"
    assert await _ledger_count(settings) == 2


async def test_cross_group_failure_gives_back_the_first_group(
    client: Any, redis: Redis, settings: Any
) -> None:
    await publish_group(redis, "P:AAA", ["F1"], total_limit=5)
    await publish_group(redis, "S:16", ["F2"], coupon={"usage_limit": 1})
    assert code_of(await redeem(client, coupon_in("F2", "111"))) == 700
    # P:AAA is guarded first (groups go in order) and passes; S:16 then fails with 711.
    body = await redeem(client, coupon_in("F1", "222"), coupon_in("F2", "222"))
    assert [code_of(body, i) for i in range(2)] == [700, 711]
    assert item(body, 0)["item_status"]["success"] == "false"
    assert int(await redis.get(redis_keys.redeemed_total("P:AAA")) or 0) == 0
    assert await _ledger_count(settings) == 1
    both = await redeem(client, coupon_in("F1", "222"))
    assert code_of(both) == 700
    assert int(await redis.get(redis_keys.redeemed_total("P:AAA")) or 0) == 1


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"{not json", "malformed JSON"),
        (b"[]", "JSON object"),
        (b'{"root": {}}', "root.coupon"),
        (b'{"root": {"coupon": []}}', "root.coupon"),
        (b'{"root": {"coupon": [{"customer": {"mobile": "1"}}]}}', "code"),
        (b'{"root": {"coupon": [{"code": "X", "transaction": [{"amount": "-1"}]}]}}', "amount"),
        (b'{"root": {"coupon": [{"code": "X", "transaction": [{"amount": "abc"}]}]}}', "amount"),
        (b'{"root": {"coupon": [{"code": "X", "transaction": [{"amount": 1e309}]}]}}', "JSON"),
        (b'{"root": {"coupon": [{"code": "' + b"X" * 100 + b'"}]}}', "code"),
    ],
)
async def test_malformed_requests_are_400(client: Any, payload: bytes, fragment: str) -> None:
    resp = await client.post(
        "/v1.1/coupon/redeem", data=payload, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    status = (await resp.json())["response"]["status"]
    assert status["success"] == "false"
    assert status["code"] == 400
    assert fragment in status["message"]


async def _ledger_count(settings: Any) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM redemptions WHERE reversed_at IS NULL"
        )
        return count
    finally:
        await conn.close()
