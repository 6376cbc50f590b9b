"""The fan-out: every event type of the three streams reaches the endpoints subscribed to
it, signed (verified with ``standardwebhooks``) and mapped as the catalogue says; internal
types and unsubscribed endpoints get nothing; an event nobody wants is not stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from coupon_core.events import Event
from coupon_core.keys import PG_POOL
from coupon_dev.testing.poll import until
from webhook_service.keys import SETTINGS
from webhook_service.usecases import endpoints, fanout

from .conftest import Receiver
from .harness import REDEEMED, publish, subscribe, verified

StartWebhook = Callable[..., Awaitable[Any]]

ACTIVATED = {
    "activationId": "77",
    "code": "PREMIUM-30D-X1",
    "group": "P:PREMIUM-30D",
    "userId": "4120",
    "subscriptionId": "981",
    "notifyUser": True,
    "activatedAt": "2026-12-06T12:30:00.5+00:00",
}
REVERSED = {
    "redemptionId": "1042",
    "code": "SUMMER-7Q2K9",
    "group": "P:SUMMER",
    "customerId": "3301",
    "reversedAt": "2026-12-06T11:00:00+00:00",
}
ISSUED = {
    "code": "WELCOME-4HJ2",
    "group": "S:12",
    "couponId": 5519,
    "customerId": "3301",
    "issuedAt": "2026-12-06T09:00:00+00:00",
}
LIMIT = {
    "scope": "series",
    "group": "S:12",
    "code": None,
    "counter": "issues",
    "limit": 100,
    "used": 100,
    "reachedAt": "2026-12-06T18:42:10+00:00",
}
GENERATED = {
    "jobId": "42",
    "promotionCode": "SUMMER",
    "requested": 10,
    "generated": 10,
    "status": "done",
    "completedAt": "2026-12-06T08:00:04+00:00",
}


async def test_every_event_type_reaches_a_subscriber_of_all(
    start_webhook: StartWebhook, receivers: Callable[[], Awaitable[Receiver]]
) -> None:
    client = await start_webhook()
    pool, settings = client.app[PG_POOL], client.app[SETTINGS]
    everything, issues, off = await receivers(), await receivers(), await receivers()
    all_types = await subscribe(pool, settings, everything.url, ["*"])
    issued_only = await subscribe(pool, settings, issues.url, ["coupon.issued"])
    await endpoints.create(pool, settings, url=off.url, events=["*"], description="", enabled=False)
    await publish(
        client,
        "redemption",
        ("coupon.redeemed", REDEEMED),
        ("coupon.redemption_reversed", REVERSED),
        ("coupon.activated", ACTIVATED),
        ("limit.reached", {**LIMIT, "scope": "promotion", "group": "P:SUMMER"}),
    )
    await publish(
        client,
        "issuance",
        ("coupon.issued", ISSUED),
        ("series.updated", {"group": "S:12", "seriesId": 12}),
        ("limit.reached", LIMIT),
    )
    await publish(
        client,
        "promotion",
        ("coupon.created", {"code": "C1", "group": "P:SUMMER", "couponId": 1}),
        ("promotion.updated", {"group": "P:SUMMER", "promotionCode": "SUMMER"}),
        ("generation.completed", GENERATED),
    )
    await until(lambda: len(everything.received) == 7, "the seven events delivered")
    await until(lambda: issues.received, "coupon.issued delivered")
    bodies = {
        body["id"]: body
        for body in (verified(got, all_types.secret) for got in everything.received)
    }
    assert {body_id: body["type"] for body_id, body in bodies.items()} == {
        "evt_redemption_1": "coupon.redeemed",
        "evt_redemption_2": "redemption.reversed",
        "evt_redemption_3": "coupon.activated",
        "evt_redemption_4": "limit.reached",
        "evt_issuance_5": "coupon.issued",
        "evt_issuance_7": "limit.reached",
        "evt_promotion_10": "generation.completed",
    }
    assert bodies["evt_redemption_3"]["data"]["notification"] == {
        "userId": "4120",
        "reason": "coupon.activated",
        "code": "PREMIUM-30D-X1",
        "subscriptionId": "981",
    }
    assert bodies["evt_issuance_7"]["data"] == {
        "scope": "series",
        "code": None,
        "seriesId": 12,
        "promotionCode": None,
        "counter": "issues",
        "limit": 100,
        "used": 100,
        "reachedAt": "2026-12-06T18:42:10+00:00",
    }
    assert bodies["evt_promotion_10"]["data"] == GENERATED
    [issued] = issues.received
    assert verified(issued, issued_only.secret)["id"] == "evt_issuance_5"
    assert off.received == []
    stored = await pool.fetchval("SELECT count(*) FROM webhook_events")
    assert stored == 7
    # One delivery per subscribed, enabled endpoint; none to the disabled one.
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 8


def _event(number: int, event_type: str = "coupon.redeemed") -> Event:
    return Event(
        id=f"redemption:{number}",
        type=event_type,
        payload=REDEEMED,
        occurred_at="2026-12-06T10:15:00.123456+00:00",
    )


async def test_an_event_nobody_wants_is_not_stored(start_webhook: StartWebhook) -> None:
    client = await start_webhook()
    pool, settings = client.app[PG_POOL], client.app[SETTINGS]
    await subscribe(pool, settings, "http://127.0.0.1:9/hooks", ["coupon.issued"])
    queued = asyncio.Event()
    async with pool.acquire() as conn, conn.transaction():
        await fanout.handler(queued)(conn, [_event(1), _event(2, "coupon.created")])
    assert await pool.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert not queued.is_set()


async def test_an_event_seen_again_is_not_queued_again(start_webhook: StartWebhook) -> None:
    client = await start_webhook(webhook_poll_s=60.0)  # the deliverer stays out of the way
    pool, settings = client.app[PG_POOL], client.app[SETTINGS]
    await subscribe(pool, settings, "http://127.0.0.1:9/hooks")
    for _ in range(2):
        queued = asyncio.Event()
        async with pool.acquire() as conn, conn.transaction():
            await fanout.handler(queued)(conn, [_event(1)])
    assert not queued.is_set()
    row = await pool.fetchrow("SELECT id, type, body FROM webhook_events")
    assert row is not None
    assert (row["id"], row["type"]) == ("evt_redemption_1", "coupon.redeemed")
    assert bytes(row["body"]).startswith(
        b'{"id":"evt_redemption_1","type":"coupon.redeemed",'
        b'"timestamp":"2026-12-06T10:15:00.123456Z","data":{'
    )
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 1
