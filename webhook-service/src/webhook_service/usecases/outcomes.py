"""Record what the deliverer did, a batch at a time, in one transaction: the outcomes of
attempts (docs/webhooks.md, "Delivery, retries and safety"), the claims it gives back
unattempted, and the endpoints that have now failed for ``WEBHOOK_DISABLE_AFTER_H``:
disabled, with a ``webhook.disabled`` event to the other endpoints subscribed to it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from webhook_service.db import deliveries as deliveries_db
from webhook_service.db.deliveries import Claim, Disabled, Finished
from webhook_service.domain import bodies, catalogue
from webhook_service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recorded:
    recorded: int  # outcomes recorded (those whose claim had lapsed are not)
    disabled: list[Disabled]
    notices: int  # webhook.disabled deliveries queued


def disabled_reason(settings: Settings) -> str:
    return f"every delivery attempt failed for {settings.webhook_disable_after_h} hours"


def disabled_event(endpoint: Disabled, reason: str) -> bodies.WebhookEvent:
    return bodies.build(
        event_id=bodies.own_event_id(),
        event_type=catalogue.WEBHOOK_DISABLED,
        occurred_at=endpoint.disabled_at,
        data=catalogue.webhook_disabled_data(
            webhook_id=endpoint.endpoint_id,
            url=endpoint.url,
            reason=reason,
            failing_since=endpoint.failing_since,
            disabled_at=endpoint.disabled_at,
        ),
    )


async def record(
    pool: asyncpg.Pool,
    finished: Sequence[Finished],
    released: Sequence[Claim],
    *,
    settings: Settings,
) -> Recorded:
    recorded, failing, disabled, notices = 0, list[int](), list[Disabled](), 0
    async with pool.acquire() as conn, conn.transaction():
        if finished:
            recorded, failing = await deliveries_db.record(
                conn, finished, disable_after=settings.disable_after
            )
        await deliveries_db.release(conn, released)
        if failing:
            reason = disabled_reason(settings)
            disabled = await deliveries_db.disable(conn, failing, reason=reason)
            notices = await deliveries_db.insert_events(
                conn, [disabled_event(endpoint, reason) for endpoint in disabled]
            )
    for endpoint in disabled:
        log.warning(
            "webhook endpoint %d (%s) disabled: failing since %s",
            endpoint.endpoint_id,
            endpoint.url,
            endpoint.failing_since,
        )
    return Recorded(recorded, disabled, notices)
