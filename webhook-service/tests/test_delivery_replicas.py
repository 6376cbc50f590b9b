"""Deliverers on one database: two replicas share the work without ever attempting the same
delivery at once, and a claim left by a deliverer stopped mid-attempt is attempted again
once its lease has lapsed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from coupon_core.keys import PG_POOL
from coupon_dev.testing.poll import until
from coupon_dev.testing.prometheus import by_label
from webhook_service.keys import SETTINGS
from webhook_service.usecases import redeliver

from .conftest import Receiver
from .harness import REDEEMED, attempts, deliveries, publish, statuses, subscribe

StartWebhook = Callable[..., Awaitable[Any]]
EVENTS = 200


async def test_two_deliverers_deliver_each_event_once(
    start_webhook: StartWebhook, receiver: Receiver
) -> None:
    first, second = await start_webhook(), await start_webhook()
    pool = first.app[PG_POOL]
    await subscribe(pool, first.app[SETTINGS], receiver.url, ["coupon.redeemed"])
    await publish(
        first,
        "redemption",
        *[("coupon.redeemed", {**REDEEMED, "redemptionId": str(n)}) for n in range(EVENTS)],
    )

    async def done() -> bool:
        return (await statuses(pool)).count("delivered") == EVENTS

    await until(done, "every event delivered")
    assert sorted(receiver.ids()) == sorted(f"evt_redemption_{n}" for n in range(1, EVENTS + 1))
    assert receiver.max_overlap == 1
    assert len(await attempts(pool)) == EVENTS
    assert {row["attempts"] for row in await deliveries(pool)} == {1}
    delivered = [await _delivered(client) for client in (first, second)]
    assert sum(delivered) == EVENTS


async def _delivered(client: Any) -> float:
    page = await (await client.get("/metrics")).text()
    return by_label(page, "webhook_deliveries_total", "outcome").get("delivered", 0.0)


async def test_a_claim_abandoned_mid_attempt_is_attempted_again_after_its_lease(
    start_webhook: StartWebhook, receiver: Receiver
) -> None:
    # A 2 s timeout: the claim's lease is 2 * 2 s + 2 s (lease in domain/schedule.py).
    first = await start_webhook(webhook_timeout_s=2.0)
    pool = first.app[PG_POOL]
    endpoint = await subscribe(pool, first.app[SETTINGS], receiver.url)
    held = asyncio.Event()

    async def hold_the_first(request: web.Request) -> web.StreamResponse:
        if len(receiver.received) == 1:
            await held.wait()
        return web.Response()

    receiver.answer = hold_the_first
    try:
        event_id = await redeliver.send_test(pool, endpoint.id)
        await until(lambda: receiver.received, "the first attempt under way")
        await first.close()  # the deliverer stops mid-attempt: nothing recorded or given back
        second = await start_webhook(webhook_timeout_s=2.0)
        pool = second.app[PG_POOL]
        await until(lambda: statuses(pool), "delivered by the other", equals=["delivered"])
    finally:
        held.set()
    assert receiver.ids() == [event_id, event_id]
    [delivery] = await deliveries(pool)
    assert delivery["attempts"] == 2  # the abandoned attempt counted, never recorded
    assert [a["outcome"] for a in await attempts(pool)] == ["delivered"]
