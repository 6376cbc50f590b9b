"""Queue deliveries on request: a ``webhook.test`` event to one endpoint, or events again
(one, or every delivery since a time). A delivery queued again is due at once, gets a new
retry window and keeps its event id, so the receiver de-duplicates by it. A delivery a
deliverer holds at that moment is left to it (it is already being attempted)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from webhook_service.db import deliveries as deliveries_db
from webhook_service.domain import bodies, catalogue
from webhook_service.usecases.endpoints import not_found

# Redelivery "since" a time, when no status is given: the deliveries that were given up.
DEFAULT_STATUS = "failed"


async def send_test(pool: asyncpg.Pool, endpoint_id: int) -> str:
    """Queue a ``webhook.test`` event to that endpoint only; its event id."""
    event = bodies.build(
        event_id=bodies.own_event_id(),
        event_type=catalogue.WEBHOOK_TEST,
        occurred_at=datetime.now(UTC),
        data=catalogue.webhook_test_data(webhook_id=endpoint_id),
    )
    async with pool.acquire() as conn, conn.transaction():
        if not await deliveries_db.insert_event_for(conn, event, endpoint_id):
            raise not_found(endpoint_id)
    return event.id


async def redeliver_event(pool: asyncpg.Pool, endpoint_id: int, event_id: str) -> int:
    """Queue event ``event_id`` to the endpoint again (also one it was not sent before);
    1 when it is queued, 0 when the event is unknown or past retention."""
    async with pool.acquire() as conn, conn.transaction():
        return await deliveries_db.requeue_event(conn, endpoint_id, event_id)


async def redeliver_since(
    pool: asyncpg.Pool, endpoint_id: int, since: datetime, status: str | None
) -> int:
    """Queue again every delivery to the endpoint created since ``since`` in ``status``
    (``failed`` when None; ``pending``: those waiting for a later retry are brought
    forward); how many."""
    async with pool.acquire() as conn, conn.transaction():
        return await deliveries_db.requeue_since(conn, endpoint_id, since, status or DEFAULT_STATUS)
