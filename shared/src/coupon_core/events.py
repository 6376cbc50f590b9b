"""Domain events: a transactional outbox relayed to Redis Streams, and idempotent consumers.

* A service writes an event with :func:`enqueue` in the same transaction as the change it
  describes (table ``outbox``, migration ``0001_outbox.sql`` of every service).
* :func:`relay_outbox` (a background task) publishes unpublished rows to the service's
  stream ``events:<service>`` and marks them. Several replicas share the work through
  ``FOR UPDATE SKIP LOCKED``. If Redis lost its data, the relay publishes the retained
  outbox again; consumers are idempotent, so that is safe.
* :func:`consume` (a background task) reads a stream through a consumer group and runs the
  handler and the ``processed_events`` insert in one transaction, then acknowledges.

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
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

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


Handler = Callable[[Connection, Event], Awaitable[None]]
# Entries a dead replica left unacknowledged: claimed after this idle time, looked for this often.
CLAIM_IDLE_MS = 5_000
CLAIM_EVERY_S = 1.0


def _decode(entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
    return Event(
        id=fields.get(b"id", entry_id).decode(),
        type=fields[b"type"].decode(),
        payload=orjson.loads(fields[b"payload"]),
        occurred_at=fields.get(b"occurred_at", b"").decode(),
    )


async def _ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def _handle(pool: asyncpg.Pool, consumer: str, event: Event, handler: Handler) -> None:
    async with pool.acquire() as conn, conn.transaction():
        fresh = await conn.fetchval(
            "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            event.id,
        )
        if fresh:
            await handler(conn, event)


async def consume(
    pool: asyncpg.Pool,
    redis: Redis,
    *,
    stream_service: str,
    consumer: str,
    handler: Handler,
    block_ms: int = 500,
    claim_idle_ms: int = CLAIM_IDLE_MS,
    claim_every_s: float = CLAIM_EVERY_S,
) -> None:
    """Process the events of ``stream_service`` forever, each exactly once per ``consumer``.

    Entries another replica read and never acknowledged (it died) are claimed once they have
    been idle ``claim_idle_ms``, checked every ``claim_every_s`` while running, not only at
    start-up: otherwise they would wait for some replica's next restart. Claiming an entry a
    slow live replica still holds is safe: handling is idempotent (``processed_events``)."""
    stream = keyspace.event_stream(stream_service)
    name = f"{socket.gethostname()}-{os.getpid()}"
    pending_first = True
    next_claim = 0.0
    while True:
        try:
            await _ensure_group(redis, stream, consumer)
            # Our own unacknowledged entries first (after a restart), then new ones, and
            # entries a dead replica left pending for a while.
            start = "0" if pending_first else ">"
            batches: Any = await redis.xreadgroup(
                consumer,
                name,
                {stream: start},
                count=100,
                block=None if pending_first else block_ms,
            )
            if pending_first or time.monotonic() >= next_claim:
                next_claim = time.monotonic() + claim_every_s
                claimed: Any = await redis.xautoclaim(
                    stream, consumer, name, min_idle_time=claim_idle_ms, count=100
                )
                if claimed and claimed[1]:
                    batches = [*(batches or []), [stream.encode(), claimed[1]]]
            entries = [entry for _, items in batches or [] for entry in items]
            pending_first = bool(entries) and start == "0"
            for entry_id, fields in entries:
                if not fields:
                    continue
                await _handle(pool, consumer, _decode(entry_id, fields), handler)
                await redis.xack(stream, consumer, entry_id)
            if not entries and start == "0":
                pending_first = False
        except asyncio.CancelledError:
            raise
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                pending_first = True
                continue
            log.warning("consumer %s of %s: %r; retrying", consumer, stream, exc)
            await asyncio.sleep(0.5)
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("consumer %s of %s: %r; retrying", consumer, stream, exc)
            pending_first = True
            await asyncio.sleep(0.5)
