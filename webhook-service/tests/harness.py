"""What the delivery tests share: subscribing endpoints, putting events on the platform's
streams the way the services do (the outbox, relayed), reading what was delivered."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from coupon_core import events, redis_keys
from coupon_core.keys import PG_POOL, REDIS
from coupon_dev.testing.poll import until
from standardwebhooks.webhooks import Webhook
from webhook_service.db.endpoints import Endpoint
from webhook_service.settings import Settings
from webhook_service.usecases import endpoints

from .conftest import Received

REDEEMED = {
    "redemptionId": "1042",
    "code": "SUMMER-7Q2K9",
    "group": "P:SUMMER",
    "customerId": "3301",
    "amount": 5000,
    "couponValue": 500,
    "transactionNumber": "bill-8812",
    "redeemedAt": "2026-12-06T10:15:00.123456+00:00",
}


async def subscribe(
    pool: asyncpg.Pool, settings: Settings, url: str, kinds: list[str] | None = None
) -> Endpoint:
    """An endpoint as the API makes it (URL checked, secret made)."""
    return await endpoints.create(
        pool, settings, url=url, events=kinds or ["*"], description="", enabled=True
    )


async def publish(client: Any, service: str, *items: tuple[str, dict[str, Any]]) -> None:
    """Put events on ``service``'s stream as that service does: recorded in its outbox in
    one transaction, then relayed (this database has an outbox table of its own; one
    relay at a time takes it, so that each event goes out as ``service``'s)."""
    pool, redis = client.app[PG_POOL], client.app[REDIS]
    async with pool.acquire() as conn, conn.transaction():
        for event_type, payload in items:
            await events.enqueue(conn, service=service, event_type=event_type, payload=payload)
    # The relay marker says Redis has the outbox already: no replay of the other services'
    # rows into this stream.
    await redis.set(redis_keys.relay_alive(service), "set by the test")
    relay = asyncio.create_task(events.relay_outbox(pool, redis, service=service))
    try:

        async def relayed() -> bool:
            return not await pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"
            )

        await until(relayed, f"the events relayed to the {service} stream")
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)


def verified(received: Received, secret: str) -> dict[str, Any]:
    """The body, once ``standardwebhooks`` has verified its signature with ``secret``."""
    body: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return body


async def deliveries(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM webhook_deliveries ORDER BY id"))


async def statuses(pool: asyncpg.Pool) -> list[str]:
    return [row["status"] for row in await deliveries(pool)]


async def attempts(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM webhook_attempts ORDER BY id"))


async def outcomes(pool: asyncpg.Pool) -> list[str]:
    return [row["outcome"] for row in await attempts(pool)]
