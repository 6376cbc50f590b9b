"""Domain events: a transactional outbox relayed to Redis Streams, and idempotent consumers.

* A service writes an event with :func:`enqueue` in the same transaction as the change it
  describes (table ``outbox``, migration ``0001_outbox.sql`` of every service).
* :func:`relay_outbox` (a background task) publishes unpublished rows to the service's
  stream ``events:<service>`` and marks them. Several replicas share the work through
  ``FOR UPDATE SKIP LOCKED``. If Redis lost its data, the relay publishes the retained
  outbox again; consumers are idempotent, so that is safe.
* :func:`coupon_core.consumer.consume` (a background task) reads a stream through a
  consumer group, up to 100 entries at a time. Each batch is one transaction: a single
  ``processed_events`` insert of the batch's event ids tells which are new, the handler
  runs for those (in stream order, in that transaction), the commit records both; then
  one XACK acknowledges the batch. A batch that fails is retried event by event, so one
  failing event does not hold back the others; it stays pending, logged at each retry.

Event types and payloads (camelCase JSON; ``group`` is a keyspace group ref such as
``S:12`` or ``P:HOLIDAY-SALE``):

==============================  ==================  =============================================
type                            stream (producer)   payload
==============================  ==================  =============================================
coupon.created                  promotion           code, group, couponId
promotion.updated               promotion           group, promotionCode
coupon.issued                   issuance            code, group, couponId, customerId, issuedAt
series.updated                  issuance            group, seriesId
coupon.redeemed                 redemption          redemptionId, code, group, customerId,
                                                    amount, couponValue, redeemedAt
coupon.redemption_reversed      redemption          redemptionId, code, group, customerId,
                                                    reversedAt
coupon.activated                redemption          activationId, code, group, userId,
                                                    subscriptionId, notifyUser, activatedAt
==============================  ==================  =============================================

An activation uses the coupon once, like a redemption: ``used`` counts both.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from coupon_core import keyspace
from coupon_core.db import Connection

log = logging.getLogger(__name__)

RELAY_BATCH = 500
RELAY_IDLE_S = 0.05
REPLAY_WINDOW = "24 hours"
STREAM_MAXLEN = 1_000_000


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # "<service>:<outbox id>", unique platform-wide
    type: str
    payload: dict[str, Any]
    occurred_at: str


async def enqueue(
    conn: Connection, *, service: str, event_type: str, payload: dict[str, Any]
) -> None:
    """Record an event; call inside the transaction that makes the change."""
    await conn.execute(
        "INSERT INTO outbox (stream, event_type, payload) VALUES ($1, $2, $3)",
        keyspace.event_stream(service),
        event_type,
        payload,
    )


async def _publish_batch(pool: asyncpg.Pool, redis: Redis, service: str, replay: bool) -> int:
    where = f"created_at > now() - interval '{REPLAY_WINDOW}'" if replay else "published_at IS NULL"
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"SELECT id, stream, event_type, payload, created_at FROM outbox WHERE {where} "
            f"ORDER BY id LIMIT {RELAY_BATCH if not replay else 1_000_000} FOR UPDATE SKIP LOCKED"
        )
        if not rows:
            return 0
        async with redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.xadd(
                    row["stream"],
                    {
                        "id": f"{service}:{row['id']}",
                        "type": row["event_type"],
                        "payload": orjson.dumps(row["payload"]),
                        "occurred_at": row["created_at"].isoformat(),
                    },
                    maxlen=STREAM_MAXLEN,
                    approximate=True,
                )
            await pipe.execute()
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
        return len(rows)


async def relay_outbox(pool: asyncpg.Pool, redis: Redis, *, service: str) -> None:
    """Publish the outbox forever; a background task of every event-producing service."""
    marker = keyspace.relay_alive(service)
    while True:
        try:
            if not await redis.exists(marker):
                replayed = await _publish_batch(pool, redis, service, replay=True)
                await redis.set(marker, datetime.now(UTC).isoformat())
                if replayed:
                    log.warning("redis had no relay marker: replayed %d outbox events", replayed)
            published = await _publish_batch(pool, redis, service, replay=False)
            if published < RELAY_BATCH:
                await asyncio.sleep(RELAY_IDLE_S)
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("outbox relay of %s: %r; retrying", service, exc)
            await asyncio.sleep(0.5)
