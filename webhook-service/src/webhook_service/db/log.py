"""Reads of an endpoint's deliveries and attempt log for the API: newest first, a page at a
time by id (``before``: the smallest id of the previous page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from coupon_core.db import Connection

DELIVERY_STATUSES = ("pending", "delivered", "failed")
OUTCOMES = ("delivered", "http_error", "timeout", "refused", "network_error")


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    delivery_id: int
    event_id: str
    event_type: str | None  # None once the event itself is past retention
    attempted_at: datetime
    outcome: str
    http_status: int | None
    latency_ms: float
    response_head: str
    error: str | None


_DELIVERIES = """
SELECT d.id, d.event_id, e.type AS event_type, d.status, d.attempts, d.next_attempt_at,
       d.first_attempt_at, d.last_attempt_at, d.created_at
FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
  AND ($3::bigint IS NULL OR d.id < $3)
ORDER BY d.id DESC LIMIT $4
"""


async def deliveries(
    conn: Connection, endpoint_id: int, *, status: str | None, before: int | None, limit: int
) -> list[Delivery]:
    rows = await conn.fetch(_DELIVERIES, endpoint_id, status, before, limit)
    return [Delivery(**dict(row)) for row in rows]


# Attempts outlive neither their delivery nor (by more than retention) their event; the
# event's type is joined while the event is kept.
_ATTEMPTS = """
SELECT a.id, a.delivery_id, a.event_id, e.type AS event_type, a.attempted_at, a.outcome,
       a.http_status, a.latency_ms, a.response_head, a.error
FROM webhook_attempts a LEFT JOIN webhook_events e ON e.id = a.event_id
WHERE a.endpoint_id = $1 AND ($2::timestamptz IS NULL OR a.attempted_at >= $2)
  AND ($3::text IS NULL OR a.outcome = $3) AND ($4::bigint IS NULL OR a.id < $4)
ORDER BY a.id DESC LIMIT $5
"""


def _attempt(row: asyncpg.Record) -> Attempt:
    return Attempt(**dict(row))


async def attempts(
    conn: Connection,
    endpoint_id: int,
    *,
    since: datetime | None,
    outcome: str | None,
    before: int | None,
    limit: int,
) -> list[Attempt]:
    rows = await conn.fetch(_ATTEMPTS, endpoint_id, since, outcome, before, limit)
    return [_attempt(row) for row in rows]
