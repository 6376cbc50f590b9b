"""Many outbox events in one statement (``coupon_core.events.enqueue`` writes one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coupon_core import keyspace
from coupon_core.db import Connection


async def enqueue_many(
    conn: Connection, *, service: str, event_type: str, payloads: Sequence[dict[str, Any]]
) -> None:
    """Record events in the transaction that makes the change they describe."""
    await conn.execute(
        "INSERT INTO outbox (stream, event_type, payload) "
        "SELECT $1, $2, payload FROM unnest($3::jsonb[]) WITH ORDINALITY AS e(payload, n) "
        "ORDER BY n",
        keyspace.event_stream(service),
        event_type,
        list(payloads),
    )
