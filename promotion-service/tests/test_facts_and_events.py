"""Facts for the redemption service, kept current; ``used`` from redemption events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from coupon_core import code_registry, facts, redis_keys
from coupon_core.facts import Discount, SubscriptionGrant
from coupon_dev.testing.poll import until

BASE = "/api/v1/promotions/HOLIDAY-SALE/coupons"
GROUP = "P:HOLIDAY-SALE"


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


async def test_facts_follow_every_write(api: Any, redis: Any, new_promotion: Any) -> None:
    await new_promotion(
        api,
        usageLimit=500,
        startsAt="2030-01-01T00:00:00+00:00",
        endsAt="2030-12-31T00:00:00+00:00",
        rules=[{"type": "item_total", "configuration": {"amount": 25}}],
        actions=[{"type": "order_percentage_discount", "configuration": {"percentage": 0.15}}],
    )
    created = await api.post(
        f"{BASE}/",
        json={"code": "F1", "usageLimit": 3, "perCustomerUsageLimit": 1, "expiresAt": "2031-01-01"},
    )
    coupon_id = (await created.json())["id"]
    group, coupon = await facts.read(redis, GROUP, "F1")
    assert group is not None
    assert coupon is not None
    assert group.starts_at == ts("2030-01-01T00:00:00+00:00")
    assert group.ends_at == ts("2030-12-31T00:00:00+00:00")
    assert group.total_limit == 500
    assert group.min_amount == 25
    assert group.discount == Discount(type="PERC", value=15)
    assert group.grant is None
    assert coupon.coupon_id == coupon_id
    assert coupon.usage_limit == 3
    assert coupon.per_customer_limit == 1
    assert coupon.expires_at == ts("2031-01-01T00:00:00+01:00")

    await api.patch(f"{BASE}/F1", json={"usageLimit": 9})
    _, coupon = await facts.read(redis, GROUP, "F1")
    assert coupon is not None
    assert coupon.usage_limit == 9
    await api.put(f"{BASE}/F1", json={})
    _, coupon = await facts.read(redis, GROUP, "F1")
    assert coupon is not None
    assert (coupon.usage_limit, coupon.per_customer_limit, coupon.expires_at) == (None, None, None)

    grant = {"subscriptionTypeId": 4, "subscriptionTypeName": "Gold", "lengthDays": 30}
    await api.patch(
        "/api/v1/promotions/HOLIDAY-SALE",
        json={
            "usageLimit": None,
            "actions": [
                {"type": "order_fixed_discount", "configuration": {"amount": 7.5}},
                {"type": "grant_subscription", "configuration": grant},
            ],
        },
    )
    group, _ = await facts.read(redis, GROUP, "F1")
    assert group is not None
    assert group.total_limit is None
    assert group.discount == Discount(type="ABS", value=7.5)
    assert group.grant == SubscriptionGrant(
        subscription_type_id=4, subscription_type_name="Gold", length_days=30
    )

    await api.delete(f"{BASE}/F1")
    group, coupon = await facts.read(redis, GROUP, "F1")
    assert group is not None
    assert coupon is None
    assert await code_registry.owner_of(redis, "F1") is None

    await api.post(f"{BASE}/", json={"code": "F2"})
    assert (await api.delete("/api/v1/promotions/HOLIDAY-SALE")).status == 204
    assert await facts.read(redis, GROUP, "F2") == (None, None)
    assert await code_registry.owner_of(redis, "F2") is None


async def test_republish_after_redis_lost_everything(
    api: Any, redis: Any, new_promotion: Any
) -> None:
    await new_promotion(
        api, actions=[{"type": "order_fixed_discount", "configuration": {"amount": 5}}]
    )
    for code in ("R1", "R2"):
        await api.post(f"{BASE}/", json={"code": code, "usageLimit": 2})
    assert (await api.post(f"{BASE}/generate", json={"amount": 50})).status == 201
    marker = redis_keys.facts_ready("promotion")
    await until(lambda: redis.exists(marker))
    await redis.flushall()

    async def republished() -> bool:
        if not await redis.exists(marker):
            return False
        group, coupon = await facts.read(redis, GROUP, "R2")
        return group is not None and coupon is not None and coupon.usage_limit == 2

    await until(republished)
    assert await code_registry.owner_of(redis, "R1") == GROUP
    keys = [k async for k in redis.scan_iter(match="{C:*}:owner", count=1000)]
    assert len(keys) == 52
    coupon_keys = [k async for k in redis.scan_iter(match="{P:HOLIDAY-SALE}:coupon:*", count=1000)]
    assert len(coupon_keys) == 52


async def xadd(redis: Any, event_type: str, payload: dict[str, Any], event_id: str = "") -> str:
    """An entry exactly as the redemption service's outbox relay writes it."""
    event_id = event_id or f"redemption:{uuid.uuid4().int % 10**9}"
    await redis.xadd(
        redis_keys.event_stream("redemption"),
        {
            "id": event_id,
            "type": event_type,
            "payload": orjson.dumps(payload),
            "occurred_at": datetime.now(UTC).isoformat(),
        },
    )
    return event_id


async def test_used_follows_redemption_events(api: Any, redis: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    await api.post(f"{BASE}/", json={"code": "U1"})
    payload = {"code": "U1", "group": GROUP, "customerId": "7", "redemptionId": 1}

    async def used(expected: int) -> bool:
        coupon = await (await api.get(f"{BASE}/U1")).json()
        promo = await (await api.get("/api/v1/promotions/HOLIDAY-SALE")).json()
        return bool(coupon["used"] == expected and promo["used"] == expected)

    first = await xadd(redis, "coupon.redeemed", payload)
    await until(lambda: used(1))
    await xadd(redis, "coupon.redeemed", payload, event_id=first)  # a replay: no effect
    await xadd(redis, "coupon.activated", {"code": "U1", "group": GROUP, "activationId": 3})
    await xadd(redis, "coupon.redeemed", {"code": "OTHER", "group": "S:9"})  # not ours
    await until(lambda: used(2))
    await xadd(redis, "coupon.redemption_reversed", payload)
    await until(lambda: used(1))


async def test_own_events_reach_the_stream(api: Any, redis: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    await api.post(f"{BASE}/", json={"code": "E1"})
    stream = redis_keys.event_stream("promotion")

    async def events() -> list[tuple[str, dict[str, Any]]]:
        entries = await redis.xrange(stream)
        return [(f[b"type"].decode(), orjson.loads(f[b"payload"])) for _, f in entries]

    seen = await until(lambda: _at_least(events, 2))
    assert seen[0] == ("promotion.updated", {"group": GROUP, "promotionCode": "HOLIDAY-SALE"})
    assert seen[1][0] == "coupon.created"
    assert seen[1][1]["code"] == "E1"
    assert seen[1][1]["group"] == GROUP
    assert isinstance(seen[1][1]["couponId"], int)


async def _at_least(source: Any, count: int) -> Any:
    found = await source()
    return found if len(found) >= count else None


async def test_a_batch_of_events_counts_its_sums_per_coupon(
    api: Any, redis: Any, new_promotion: Any
) -> None:
    await new_promotion(api)
    for code in ("B1", "B2"):
        await api.post(f"{BASE}/", json={"code": code})
    uses = [("coupon.redeemed", "B1")] * 2 + [
        ("coupon.redeemed", "B2"),
        ("coupon.redemption_reversed", "B1"),
        ("coupon.activated", "B2"),
    ]
    # Added at once, so the consumer reads them as one batch.
    async with redis.pipeline(transaction=True) as pipe:
        for n, (event_type, code) in enumerate(uses):
            pipe.xadd(
                redis_keys.event_stream("redemption"),
                {
                    "id": f"redemption:batch-{n}",
                    "type": event_type,
                    "payload": orjson.dumps({"code": code, "group": GROUP, "redemptionId": n}),
                    "occurred_at": datetime.now(UTC).isoformat(),
                },
            )
        await pipe.execute()

    async def counted() -> bool:
        promo = await (await api.get("/api/v1/promotions/HOLIDAY-SALE")).json()
        return bool(promo["used"] == 3)

    await until(counted)
    used = [(await (await api.get(f"{BASE}/{code}")).json())["used"] for code in ("B1", "B2")]
    assert used == [1, 2]
