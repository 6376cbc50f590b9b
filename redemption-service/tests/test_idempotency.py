"""Idempotency-Key on redeem and reverse."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp import web
from redis.asyncio import Redis

from .conftest import coupon_in, publish_customer, publish_group, redeem_body


@pytest.fixture
async def client(through_gateway: Any, app: web.Application, redis: Redis) -> Any:
    await publish_customer(redis, "c-1", mobile="111")
    return await through_gateway(app)


async def test_redeem_replays_and_refuses_a_different_body(
    client: Any, redis: Redis, settings: Any
) -> None:
    await publish_group(redis, "S:30", ["K1", "K2"])
    headers = {"Idempotency-Key": "order-1"}
    first = await client.post(
        "/v1.1/coupon/redeem", json=redeem_body(coupon_in("K1", "111")), headers=headers
    )
    replay = await client.post(
        "/v1.1/coupon/redeem", json=redeem_body(coupon_in("K1", "111")), headers=headers
    )
    assert first.status == replay.status == 200
    assert await first.json() == await replay.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = await client.post(
        "/v1.1/coupon/redeem", json=redeem_body(coupon_in("K2", "111")), headers=headers
    )
    assert other.status == 422
    assert (await other.json())["response"]["status"]["code"] == 422
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM redemptions") == 1
    finally:
        await conn.close()


async def test_reverse_with_key_replays(client: Any, redis: Redis) -> None:
    await publish_group(redis, "S:31", ["L1"])
    resp = await client.post("/v1.1/coupon/redeem", json=redeem_body(coupon_in("L1", "111")))
    rid = (await resp.json())["response"]["coupons"]["coupon"]["redemption_id"]
    path = f"/v2/coupon/redemptions/{rid}/reverse"
    first = await client.post(path, json={"reason": "r"}, headers={"Idempotency-Key": "rv"})
    second = await client.post(path, json={"reason": "r"}, headers={"Idempotency-Key": "rv"})
    assert first.status == second.status == 200
    assert await first.json() == await second.json()
    bad = await client.post(path, json={"reason": "x"}, headers={"Idempotency-Key": "rv"})
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["code"] == 422
