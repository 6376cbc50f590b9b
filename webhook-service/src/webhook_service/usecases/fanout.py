"""The fan-out: the platform's events, as the consumer group ``webhook`` reads them, become
webhook events with a delivery to each enabled endpoint subscribed to their type.

Runs in the consumer's transaction, once per batch of fresh events (coupon_core.consumer):
each event is mapped (domain/catalogue.py; internal types no endpoint can subscribe to map
to nothing), its body built once as the exact bytes every delivery sends and signs, and
the batch stored with its deliveries in one statement. An event no endpoint wants is not
stored at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

from coupon_core.consumer import BatchHandler
from coupon_core.db import Connection
from coupon_core.events import Event

from webhook_service.db import deliveries as deliveries_db
from webhook_service.domain import bodies
from webhook_service.domain.catalogue import to_webhook


def _occurred_at(event: Event) -> datetime:
    """When the event happened (its outbox row's time); now, when the entry lacks it."""
    try:
        moment = datetime.fromisoformat(event.occurred_at)
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def webhook_events(batch: Iterable[Event]) -> list[bodies.WebhookEvent]:
    """The events of ``batch`` that are delivered, as their webhook events."""
    found = []
    for event in batch:
        mapped = to_webhook(event)
        if mapped is None:
            continue
        event_type, data = mapped
        found.append(
            bodies.build(
                event_id=bodies.stream_event_id(event.id),
                event_type=event_type,
                occurred_at=_occurred_at(event),
                data=data,
            )
        )
    return found


def handler(queued: asyncio.Event) -> BatchHandler:
    """The consumer's batch handler; ``queued`` is set when deliveries were queued (it wakes
    this process's deliverer)."""

    async def fan_out(conn: Connection, batch: list[Event]) -> None:
        if await deliveries_db.insert_events(conn, webhook_events(batch)):
            queued.set()

    return fan_out
