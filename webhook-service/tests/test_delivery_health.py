"""An endpoint failing for WEBHOOK_DISABLE_AFTER_H is disabled and the other endpoints hear
of it (webhook.disabled); a delivery failing past its retry window is given up. The tests
move the recorded times back instead of waiting days."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from coupon_core.keys import PG_POOL
from coupon_dev.testing.poll import until
from coupon_dev.testing.prometheus import by_label, samples
from webhook_service.keys import SETTINGS
from webhook_service.usecases import redeliver

from .conftest import Receiver
from .harness import attempts, outcomes, subscribe, verified

StartWebhook = Callable[..., Awaitable[Any]]


async def _refuse(request: web.Request) -> web.StreamResponse:
    return web.Response(status=503, text="unavailable")


async def test_an_endpoint_failing_too_long_is_disabled_and_the_others_told(
    start_webhook: StartWebhook, receivers: Callable[[], Awaitable[Receiver]]
) -> None:
    client = await start_webhook()
    pool, settings = client.app[PG_POOL], client.app[SETTINGS]
    failing, watching = await receivers(), await receivers()
    failing.answer = _refuse
    broken = await subscribe(pool, settings, failing.url, ["coupon.redeemed"])
    watcher = await subscribe(pool, settings, watching.url, ["webhook.disabled"])
    await redeliver.send_test(pool, broken.id)

    async def failing_since() -> Any:
        return await pool.fetchval(
            "SELECT failing_since FROM webhook_endpoints WHERE id = $1", broken.id
        )

    since = await until(failing_since, "the first failure recorded")
    await pool.execute(
        "UPDATE webhook_endpoints SET failing_since = failing_since - interval '121 hours' "
        "WHERE id = $1",
        broken.id,
    )
    await until(lambda: watching.received, "webhook.disabled delivered to the other endpoint")
    row = await pool.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1", broken.id)
    assert row is not None
    assert row["enabled"] is False
    assert row["disabled_at"] is not None
    assert "120 hours" in row["disabled_reason"]
    body = verified(watching.received[0], watcher.secret)
    assert body["type"] == "webhook.disabled"
    assert body["id"].startswith("evt_webhook_")
    assert body["data"] == {
        "webhookId": broken.id,
        "url": failing.url,
        "reason": row["disabled_reason"],
        "failingSince": (since - timedelta(hours=121)).isoformat(),
        "disabledAt": row["disabled_at"].isoformat(),
    }
    page = await (await client.get("/metrics")).text()
    assert samples(page)[("webhook_endpoints_disabled", ())] == 1.0


async def test_a_delivery_failing_past_its_retry_window_is_given_up(
    start_webhook: StartWebhook, receiver: Receiver
) -> None:
    client = await start_webhook()
    pool = client.app[PG_POOL]
    receiver.answer = _refuse
    endpoint = await subscribe(pool, client.app[SETTINGS], receiver.url)
    await redeliver.send_test(pool, endpoint.id)

    async def retrying() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT first_attempt_at IS NOT NULL FROM webhook_deliveries "
                "WHERE status = 'pending'"
            )
        )

    await until(retrying, "a first failure recorded")
    await pool.execute(
        "UPDATE webhook_deliveries SET first_attempt_at = first_attempt_at - interval '73 hours'"
    )

    async def given_up() -> Any:
        return await pool.fetchval("SELECT status FROM webhook_deliveries")

    await until(given_up, "given up", equals="failed")
    logged = await outcomes(pool)
    assert set(logged) == {"http_error"}
    assert len(await attempts(pool)) == len(receiver.received)
    page = await (await client.get("/metrics")).text()
    assert by_label(page, "webhook_deliveries_total", "outcome")["failed"] == 1.0
    assert samples(page)[("webhook_pending", ())] == 0.0
