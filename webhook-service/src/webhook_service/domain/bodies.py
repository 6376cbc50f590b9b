"""The delivered body of an event, ``{"id", "type", "timestamp", "data"}``: built once, when
the event is recorded, as the exact bytes every delivery of it sends and signs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

# Events the webhook service makes itself (webhook.disabled, webhook.test).
OWN_PREFIX = "evt_webhook_"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str  # evt_...: the same on every retry and redelivery (the receiver de-duplicates)
    type: str
    body: bytes
    occurred_at: datetime


def stream_event_id(event_id: str) -> str:
    """``evt_<service>_<outbox id>`` of a stream event (coupon_core Event.id
    ``<service>:<outbox id>``)."""
    service, _, number = event_id.partition(":")
    return f"evt_{service}_{number}"


def own_event_id() -> str:
    return OWN_PREFIX + uuid.uuid4().hex


def timestamp_text(moment: datetime) -> str:
    """UTC with microseconds and a ``Z``: ``2026-12-06T00:00:00.123456Z``."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(
    *, event_id: str, event_type: str, occurred_at: datetime, data: dict[str, Any]
) -> WebhookEvent:
    body = orjson.dumps(
        {"id": event_id, "type": event_type, "timestamp": timestamp_text(occurred_at), "data": data}
    )
    return WebhookEvent(id=event_id, type=event_type, body=body, occurred_at=occurred_at)
