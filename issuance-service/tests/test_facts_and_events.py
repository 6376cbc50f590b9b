"""Facts, customer index and registry in Redis; counters from redemption events;
everything republished after Redis lost its data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast

import asyncpg
import orjson
import pytest
from coupon_core import code_registry, customers, facts, redis_keys
from coupon_core.lifecycle import redis_from_url
from coupon_dev.testing.poll import until
from redis.asyncio import Redis


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = cast(Redis, redis_from_url(redis_url))
    yield client
    await client.aclose()


async def _issue(api: Any, new_series: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    resp = await api.post(
        "/v2/coupon/series",
        json=new_series(
            discountType="PERC",
            discountValue=10,
            discountUpto=50,
            maxRedeem=10,
            maxRedemptionsInSeriesPerUser=2,
            redemptionPerCouponMaxLimit=3,
            sameUserMultipleRedeem=True,
            validDaysFromCreation=30,
        ),
    )
    assert resp.status == 201, await resp.text()
    series = await resp.json()
    resp = await api.post(
        "/v2/coupon/issue",
        json={"seriesId": series["id"], "customer": {"email": "Buyer@Shop.io", "mobile": "31"}},
    )
    assert resp.status == 200, await resp.text()
    return series, await resp.json()


async def _assert_published(redis: Redis, series: dict[str, Any], coupon: dict[str, Any]) -> None:
    group = f"S:{series['id']}"
    group_facts, coupon_facts = await facts.read(redis, group, coupon["code"])
    assert group_facts is not None
    assert coupon_facts is not None
    assert group_facts.total_limit == series["maxRedeem"]
    assert group_facts.per_customer_limit == 2
    assert group_facts.any_user is False
    assert group_facts.discount == facts.Discount(type="PERC", value=10, upto=50)
    assert group_facts.ends_at == int(datetime.fromisoformat(series["validTillDate"]).timestamp())
    assert group_facts.discount_code == "erg123"
    assert group_facts.description == "Festival coupon"
    assert coupon_facts.coupon_id == coupon["id"]
    assert coupon_facts.customer_id == str(coupon["customer"]["id"])
    assert coupon_facts.expires_at == int(datetime.fromisoformat(coupon["validTill"]).timestamp())
    assert coupon_facts.usage_limit == 3
    customer_id = str(coupon["customer"]["id"])
    assert await customers.resolve(redis, "email", " BUYER@shop.io") == customer_id
    assert await customers.resolve(redis, "mobile", "31") == customer_id
    assert await customers.resolve(redis, "id", customer_id) == customer_id
    assert await code_registry.owner_of(redis, coupon["code"]) == group


async def test_facts_index_and_registry_are_published(
    api: Any, new_series: Any, redis: Redis
) -> None:
    series, coupon = await _issue(api, new_series)
    await _assert_published(redis, series, coupon)
    group_facts, coupon_facts = await facts.read(redis, f"S:{series['id']}", coupon["code"])
    assert coupon_facts is not None
    assert coupon_facts.per_customer_limit is None  # sameUserMultipleRedeem

    async def issued_event() -> bool:
        stream = redis_keys.event_stream("issuance")
        entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", await redis.xrange(stream))
        types = [orjson.loads(f[b"payload"]).get("code") for _, f in entries]
        return coupon["code"] in types

    await until(issued_event, what="coupon.issued on events:issuance")

    changed = await api.put(
        f"/v2/coupon/series/{series['id']}",
        json={"maxRedeem": 20, "sameUserMultipleRedeem": False, "anyUser": True},
    )
    assert changed.status == 200, await changed.text()
    updated = await changed.json()
    assert updated["maxRedeem"] == 20
    assert updated["discountUpto"] == 50.0
    assert updated["numIssued"] == 1
    group_facts, coupon_facts = await facts.read(redis, f"S:{series['id']}", coupon["code"])
    assert group_facts is not None
    assert coupon_facts is not None
    assert group_facts.total_limit == 20
    assert group_facts.any_user is True
    assert coupon_facts.per_customer_limit == 1


async def test_everything_republished_after_redis_lost_it(
    api: Any, new_series: Any, redis: Redis
) -> None:
    series, coupon = await _issue(api, new_series)
    await redis.flushall()

    async def republished() -> bool:
        return bool(await redis.exists(redis_keys.facts_ready("issuance")))

    await until(republished, what="the republisher")
    await _assert_published(redis, series, coupon)
    # Counters rebuild on demand: the next issue to the same customer still counts the first.
    await api.put(f"/v2/coupon/series/{series['id']}", json={"maxVouchersPerUser": 1})
    again = await api.post(
        "/v2/coupon/issue", json={"seriesId": series["id"], "customer": {"mobile": "31"}}
    )
    assert again.status == 400
    assert (await again.json())["errors"][0]["code"] == 722


def _event(
    event_id: str, event_type: str, group: str, code: str, redemption_id: str = ""
) -> dict[str, bytes | str]:
    payload = {
        "redemptionId": redemption_id or event_id,
        "code": code,
        "group": group,
        "customerId": "1",
    }
    return {
        "id": f"redemption:{event_id}",
        "type": event_type,
        "payload": orjson.dumps(payload),
        "occurred_at": "2026-01-01T00:00:00+00:00",
    }


async def test_num_redeemed_follows_redemption_events(
    api: Any, new_series: Any, redis: Redis, database_url: str
) -> None:
    series, coupon = await _issue(api, new_series)
    other = await api.post(
        "/v2/coupon/issue", json={"seriesId": series["id"], "customer": {"mobile": "32"}}
    )
    assert other.status == 200, await other.text()
    second = await other.json()
    group, code = f"S:{series['id']}", coupon["code"]
    stream = redis_keys.event_stream("redemption")
    # Added at once, so the consumer reads them as one batch and counts its sums per coupon.
    async with redis.pipeline(transaction=True) as pipe:
        for entry in (
            _event("1", "coupon.redeemed", group, code),
            _event("2", "coupon.redeemed", group, code),
            _event("2", "coupon.redeemed", group, code),  # delivered twice: counted once
            _event("3", "coupon.redeemed", "P:SALE", "OTHER"),  # not ours
            _event("4", "coupon.redeemed", group, "UNKNOWN"),  # not one of our coupons
            _event("5", "coupon.redemption_reversed", group, code, redemption_id="1"),
            _event("6", "coupon.redeemed", group, second["code"]),
            _event("7", "coupon.redeemed", group, second["code"]),
        ):
            pipe.xadd(stream, entry)  # type: ignore[arg-type]
        await pipe.execute()

    async def all_processed() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            done = await conn.fetchval("SELECT count(*) FROM processed_events")
        finally:
            await conn.close()
        return bool(done == 7)

    await until(all_processed, what="the seven distinct events processed")
    current = await (await api.get(f"/v2/coupon/series/{series['id']}")).json()
    assert current["numRedeemed"] == 3
    owned = await (await api.get(f"/v2/customers/{coupon['customer']['id']}/coupons")).json()
    (mine,) = owned["coupons"]
    assert mine["redemptionCount"] == 1
    assert mine["redeemed"] is True
    theirs = await (await api.get(f"/v2/customers/{second['customer']['id']}/coupons")).json()
    assert [c["redemptionCount"] for c in theirs["coupons"]] == [2]


async def test_issued_events_are_written_with_the_coupons_in_code_order(
    api: Any, new_series: Any, database_url: str
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    answer = await api.post(
        "/v2/coupon/issue/multiple",
        json={"seriesId": series["id"], "customer": {"mobile": "77"}, "count": 3},
    )
    assert answer.status == 200, await answer.text()
    issued = await answer.json()
    db = await asyncpg.connect(database_url)
    try:
        rows = await db.fetch(
            "SELECT stream, event_type, payload::text AS payload FROM outbox "
            "WHERE event_type = 'coupon.issued' ORDER BY id"
        )
        coupons = await db.fetch(
            "SELECT id, code, customer_id, issued_at FROM issued_coupons ORDER BY id"
        )
    finally:
        await db.close()
    assert [c["code"] for c in coupons] == issued["codes"]
    assert [r["stream"] for r in rows] == [redis_keys.event_stream("issuance")] * 3
    assert [orjson.loads(r["payload"]) for r in rows] == [
        {
            "code": c["code"],
            "group": f"S:{series['id']}",
            "couponId": c["id"],
            "customerId": str(c["customer_id"]),
            "issuedAt": c["issued_at"].isoformat(),
        }
        for c in coupons
    ]
