"""Delivery to a real receiver on loopback: an event of a stream arrives signed (verified
with ``standardwebhooks``), failures are retried with the same webhook-id until the receiver
recovers, redirects are not followed, slow and huge answers are cut short, and an address
the URL may not reach is refused when the delivery is attempted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from coupon_core.keys import PG_POOL
from coupon_dev.testing.poll import until
from coupon_dev.testing.prometheus import by_label, samples
from webhook_service.db import endpoints as endpoints_db
from webhook_service.keys import SETTINGS
from webhook_service.usecases import redeliver

from .conftest import Receiver
from .harness import REDEEMED, attempts, outcomes, publish, statuses, subscribe, verified

StartWebhook = Callable[..., Awaitable[Any]]


async def test_an_event_of_a_stream_reaches_the_receiver_signed(
    start_webhook: StartWebhook, receiver: Receiver
) -> None:
    client = await start_webhook()
    pool = client.app[PG_POOL]
    endpoint = await subscribe(pool, client.app[SETTINGS], receiver.url, ["coupon.redeemed"])
    await publish(client, "redemption", ("coupon.redeemed", REDEEMED))
    await until(lambda: receiver.received, "the event delivered")
    got = receiver.received[0]
    body = verified(got, endpoint.secret)
    assert body["id"] == "evt_redemption_1" == got.headers["webhook-id"]
    assert body["type"] == "coupon.redeemed"
    assert body["timestamp"].endswith("Z")
    assert body["data"] == {
        "redemptionId": "1042",
        "code": "SUMMER-7Q2K9",
        "seriesId": None,
        "promotionCode": "SUMMER",
        "customerId": "3301",
        "amount": 5000,
        "couponValue": 500,
        "transactionNumber": "bill-8812",
        "redeemedAt": "2026-12-06T10:15:00.123456+00:00",
    }
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "coupon-platform-webhooks/1"
    await until(lambda: statuses(pool), "the delivery recorded", equals=["delivered"])
    [attempt] = await attempts(pool)
    assert (attempt["outcome"], attempt["http_status"], attempt["response_head"]) == (
        "delivered",
        200,
        "ok",
    )
    page = await (await client.get("/metrics")).text()
    assert by_label(page, "webhook_deliveries_total", "outcome") == {"delivered": 1.0}
    values = samples(page)
    assert values[("webhook_lag_seconds_count", ())] == 1.0
    assert values[("webhook_attempt_seconds_count", ())] == 1.0
    assert values[("webhook_pending", ())] == 0.0
    assert values[("webhook_retry_queue", ())] == 0.0
    assert values[("webhook_endpoints_disabled", ())] == 0.0


async def test_a_failing_receiver_gets_the_event_once_it_recovers(
    start_webhook: StartWebhook, receiver: Receiver
) -> None:
    client = await start_webhook()
    pool = client.app[PG_POOL]
    endpoint = await subscribe(pool, client.app[SETTINGS], receiver.url)

    async def down_three_times(request: web.Request) -> web.StreamResponse:
        if len(receiver.received) <= 3:
            return web.Response(status=500, text="down for maintenance")
        return web.Response(status=204)

    receiver.answer = down_three_times
    event_id = await redeliver.send_test(pool, endpoint.id)
    await until(
        lambda: statuses(pool), "delivered once the receiver recovers", equals=["delivered"]
    )
    assert receiver.ids() == [event_id] * 4
    assert all(verified(got, endpoint.secret)["id"] == event_id for got in receiver.received)
    logged = await attempts(pool)
    assert [(a["outcome"], a["http_status"]) for a in logged] == [("http_error", 500)] * 3 + [
        ("delivered", 204)
    ]
    assert logged[0]["response_head"] == "down for maintenance"
    health = await pool.fetchrow(
        "SELECT enabled, failing_since FROM webhook_endpoints WHERE id = $1", endpoint.id
    )
    assert health is not None
    assert (health["enabled"], health["failing_since"]) == (True, None)


async def test_a_redirect_is_a_failure_and_is_not_followed(
    start_webhook: StartWebhook, receivers: Callable[[], Awaitable[Receiver]]
) -> None:
    client = await start_webhook()
    pool = client.app[PG_POOL]
    receiver, elsewhere = await receivers(), await receivers()

    async def moved(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(elsewhere.url)

    receiver.answer = moved
    endpoint = await subscribe(pool, client.app[SETTINGS], receiver.url)
    await redeliver.send_test(pool, endpoint.id)
    await until(lambda: outcomes(pool), "the attempt recorded")
    [attempt, *_] = await attempts(pool)
    assert (attempt["outcome"], attempt["http_status"]) == ("http_error", 307)
    # Had the redirect been followed, the other receiver would have had it by now.
    assert elsewhere.received == []
    assert (await statuses(pool)) == ["pending"]


async def test_a_slow_receiver_times_out(start_webhook: StartWebhook, receiver: Receiver) -> None:
    client = await start_webhook(webhook_timeout_s=0.3)
    pool = client.app[PG_POOL]
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        await never.wait()
        return web.Response()

    receiver.answer = hang
    try:
        endpoint = await subscribe(pool, client.app[SETTINGS], receiver.url)
        await redeliver.send_test(pool, endpoint.id)
        await until(lambda: outcomes(pool), "the attempt recorded")
        [attempt, *_] = await attempts(pool)
        assert (attempt["outcome"], attempt["http_status"]) == ("timeout", None)
        assert attempt["error"]
        assert (await statuses(pool)) == ["pending"]
    finally:
        never.set()


async def test_a_huge_response_is_cut_at_the_cap(
    start_webhook: StartWebhook, receiver: Receiver
) -> None:
    client = await start_webhook()
    pool = client.app[PG_POOL]

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            while True:  # until the deliverer hangs up
                await response.write(b"x" * 65_536)
        except ConnectionError:
            return response

    receiver.answer = endless
    endpoint = await subscribe(pool, client.app[SETTINGS], receiver.url)
    await redeliver.send_test(pool, endpoint.id)
    # Read to the end, the answer would have run into the 10 s timeout: it was cut.
    await until(lambda: statuses(pool), "delivered", equals=["delivered"])
    [attempt] = await attempts(pool)
    assert (attempt["outcome"], attempt["http_status"]) == ("delivered", 200)
    assert attempt["response_head"] == "x" * 1024


async def test_an_address_not_allowed_is_refused_when_delivering(
    start_webhook: StartWebhook, receiver: Receiver
) -> None:
    # The loopback networks are not allowlisted here: the endpoints below were accepted
    # earlier (or their names resolved elsewhere then); the deliverer checks again.
    client = await start_webhook(webhook_allowed_networks="")
    pool = client.app[PG_POOL]
    port = receiver.url.split(":")[2].split("/")[0]
    urls = (f"http://localhost:{port}/hooks", f"http://127.0.0.1:{port}/hooks")
    async with pool.acquire() as conn:
        made = [
            await endpoints_db.create(
                conn, url=url, events=["*"], description="", enabled=True, secret="whsec_AAAA"
            )
            for url in urls
        ]
    for endpoint in made:
        await redeliver.send_test(pool, endpoint.id)

    async def tried() -> dict[int, str] | None:
        found = {a["endpoint_id"]: a["error"] for a in await attempts(pool)}
        return found if len(found) == 2 else None

    errors = await until(tried, "an attempt to each endpoint")
    assert errors is not None
    assert set(await outcomes(pool)) == {"refused"}
    assert "localhost resolves to 127.0.0.1, a loopback address" in errors[made[0].id]
    assert "127.0.0.1 is a loopback address" in errors[made[1].id]
    assert receiver.received == []
