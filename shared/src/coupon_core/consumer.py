"""Consumers of the event streams: batched, idempotent, restart- and replica-safe.

See :mod:`coupon_core.events` for the events and the outbox they come from. A consumer
group is declared in :data:`coupon_core.streams.CONSUMER_GROUPS`, so the relay creates it
before publishing and never trims what it has not consumed. Only the relay trims, and
what its hard cap (``STREAM_MAX_ENTRIES``) takes from a group that is behind it records
first as a gap, replayed from the outbox once the group reads again
(:mod:`coupon_core.stream_gaps`): a trimmed entry a consumer meets (a pending entry whose
data is gone) is acknowledged, and its event comes back through that replay, or is
counted in ``events_lost_total`` when the outbox no longer has it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import asyncpg
import orjson
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from coupon_core import redis_keys
from coupon_core.db import Connection
from coupon_core.events import Event
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.lifecycle import check_stopping
from coupon_core.streams import ensure_groups

log = logging.getLogger(__name__)

Handler = Callable[[Connection, Event], Awaitable[None]]
# The fresh events of a batch, in stream order, each once, in the batch's transaction: a
# handler can apply them together (one statement for the batch, not one per event).
BatchHandler = Callable[[Connection, list[Event]], Awaitable[None]]
CONSUME_BATCH = 100
# Entries a dead replica left unacknowledged: claimed after this idle time, looked for this often.
CLAIM_IDLE_MS = 5_000
CLAIM_EVERY_S = 1.0
# Batches of one consumer group of one stream serialise on (namespace, hashtext of both)
# across replicas; a consumer reading several streams handles them side by side.
CONSUMER_LOCK_NAMESPACE = 72_416
# The lock is taken before any row is inserted: every row of the join needs the CTE's row.
_RECORD_FRESH = (
    "WITH consumer_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock($1, hashtext($4))) "
    "INSERT INTO processed_events (consumer, event_id) "
    "SELECT $2, event_id FROM consumer_lock, unnest($3::text[]) AS event_id "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
# PostgreSQL is unreachable or going away: retry the batch later, the events are not at fault.
_UNAVAILABLE = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)

Entry = tuple[bytes, dict[bytes, bytes]]


def _decode(entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
    return Event(
        id=fields.get(b"id", entry_id).decode(),
        type=fields[b"type"].decode(),
        payload=orjson.loads(fields[b"payload"]),
        occurred_at=fields.get(b"occurred_at", b"").decode(),
    )


def each(handler: Handler) -> BatchHandler:
    """A batch handler that hands the events to ``handler`` one at a time, in order."""

    async def handle(conn: Connection, batch: list[Event]) -> None:
        for event in batch:
            await handler(conn, event)

    return handle


def net_uses(
    batch: list[Event], kind: redis_keys.GroupKind, deltas: Mapping[str, int]
) -> dict[tuple[str, str], int]:
    """``{(group ref, code): sum}`` over the events of ``batch`` about coupons of ``kind``'s
    groups (``S`` series, ``P`` promotions), each counting ``deltas[event type]`` (e.g. +1
    a redemption, -1 a reversal); events of other types count nowhere."""
    prefix = redis_keys.group_ref(kind, "")
    sums: dict[tuple[str, str], int] = {}
    for event in batch:
        delta = deltas.get(event.type)
        group = str(event.payload.get("group", ""))
        if delta is None or not group.startswith(prefix):
            continue
        key = (group.removeprefix(prefix), str(event.payload.get("code", "")))
        sums[key] = sums.get(key, 0) + delta
    return sums


async def _apply(
    pool: asyncpg.Pool, stream: str, consumer: str, batch: list[Event], handler: BatchHandler
) -> None:
    """One transaction: record the batch in ``processed_events``, handle the events that
    were not recorded before, in stream order, each once."""
    async with pool.acquire() as conn, conn.transaction():
        ids = list(dict.fromkeys(event.id for event in batch))
        fresh = {
            row["event_id"]
            for row in await conn.fetch(
                _RECORD_FRESH, CONSUMER_LOCK_NAMESPACE, consumer, ids, f"{stream} {consumer}"
            )
        }
        todo = []
        for event in batch:
            if event.id in fresh:
                fresh.discard(event.id)
                todo.append(event)
        if todo:
            await handler(conn, todo)


async def _process(
    pool: asyncpg.Pool,
    redis: Redis,
    stream: str,
    consumer: str,
    handler: BatchHandler,
    entries: list[Entry],
) -> None:
    """Handle a batch and acknowledge it with one XACK.

    Entries trimmed from the stream (no fields) are acknowledged: the relay recorded them
    as a gap before trimming them and replays their events (module docstring). If the batch fails
    for another reason than PostgreSQL being unavailable, its events are retried one per
    transaction, so one bad event does not hold back the others: an event that still fails
    (or an entry that cannot be decoded) is logged and left pending; the periodic claim
    retries it after ``claim_idle_ms``, logging again each time."""
    done: list[bytes] = []
    batch: list[tuple[bytes, Event]] = []
    trimmed = [entry_id for entry_id, fields in entries if not fields]
    if trimmed:
        done.extend(trimmed)
        log.warning(
            "consumer %s of %s: %d entries were trimmed before being processed; their "
            "events come back through the relay's gap replay (events_trimmed_unconsumed_total)",
            consumer,
            stream,
            len(trimmed),
        )
    for entry_id, fields in entries:
        if not fields:
            continue
        try:
            batch.append((entry_id, _decode(entry_id, fields)))
        except (KeyError, ValueError) as exc:
            log.error(
                "consumer %s of %s: entry %r unreadable (%r); left pending",
                consumer,
                stream,
                entry_id,
                exc,
            )
    try:
        if batch:
            try:
                await _apply(pool, stream, consumer, [event for _, event in batch], handler)
                done.extend(entry_id for entry_id, _ in batch)
            except _UNAVAILABLE:
                raise
            except Exception as exc:
                log.warning(
                    "consumer %s of %s: a batch of %d failed (%r); retrying it event by event",
                    consumer,
                    stream,
                    len(batch),
                    exc,
                )
                await _one_by_one(pool, stream, consumer, handler, batch, done)
    finally:
        if done:
            await redis.xack(stream, consumer, *done)


async def _one_by_one(
    pool: asyncpg.Pool,
    stream: str,
    consumer: str,
    handler: BatchHandler,
    batch: list[tuple[bytes, Event]],
    done: list[bytes],
) -> None:
    for entry_id, event in batch:
        try:
            await _apply(pool, stream, consumer, [event], handler)
        except _UNAVAILABLE:
            raise
        except Exception:
            log.exception(
                "consumer %s: event %s (%s, entry %r) failed; left pending",
                consumer,
                event.id,
                event.type,
                entry_id,
            )
            continue
        done.append(entry_id)


def _entries(reply: Any) -> list[Entry]:
    return [entry for _, items in reply or [] for entry in items]


async def consume(
    pool: asyncpg.Pool,
    redis: Redis,
    *,
    stream_service: str,
    consumer: str,
    handler: BatchHandler,
    block_ms: int = 500,
    claim_idle_ms: int = CLAIM_IDLE_MS,
    claim_every_s: float = CLAIM_EVERY_S,
) -> None:
    """Process the events of ``stream_service`` forever, each exactly once per ``consumer``.

    Entries are read (and claimed) up to ``CONSUME_BATCH`` at a time, and each batch is
    handled in one transaction and acknowledged with one XACK (see :func:`_process`).
    After a start or an error, our own unacknowledged entries are read first. Entries
    another replica read and never acknowledged (it died) are claimed once they have been
    idle ``claim_idle_ms``, checked every ``claim_every_s`` while running, not only at
    start-up: otherwise they would wait for some replica's next restart. Claiming an entry a
    slow live replica still holds is safe: handling is idempotent (``processed_events``)."""
    stream = redis_keys.event_stream(stream_service)
    name = f"{socket.gethostname()}-{os.getpid()}"
    group_ready = False
    # Where the next read of our own pending entries starts; None once they are all read.
    pending_from: str | None = "0"
    claim_from = "0-0"
    next_claim = 0.0
    while True:
        # A cancellation a library swallowed on its way up must still end the loop.
        check_stopping()
        try:
            if not group_ready:
                await ensure_groups(redis, stream, (consumer,))
                group_ready = True
            if pending_from is not None:
                reply: Any = await redis.xreadgroup(
                    consumer, name, {stream: pending_from}, count=CONSUME_BATCH
                )
                entries = _entries(reply)
                pending_from = entries[-1][0].decode() if entries else None
            else:
                reply = await redis.xreadgroup(
                    consumer, name, {stream: ">"}, count=CONSUME_BATCH, block=block_ms
                )
                entries = _entries(reply)
            if time.monotonic() >= next_claim:
                next_claim = time.monotonic() + claim_every_s
                claimed: Any = await redis.xautoclaim(
                    stream,
                    consumer,
                    name,
                    min_idle_time=claim_idle_ms,
                    start_id=claim_from,
                    count=CONSUME_BATCH,
                )
                claim_from = claimed[0].decode() if isinstance(claimed[0], bytes) else claimed[0]
                seen = {entry_id for entry_id, _ in entries}
                for entry_id, fields in claimed[1]:
                    if entry_id is None:
                        # Trimmed from the stream (Redis < 7 still claims it): it is ours
                        # now, and reading our pending entries again returns its id.
                        pending_from = "0"
                    elif entry_id not in seen:
                        entries.append((entry_id, fields))
            if entries:
                await _process(pool, redis, stream, consumer, handler, entries)
        except asyncio.CancelledError:
            raise
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                group_ready = False
                pending_from, claim_from = "0", "0-0"
                continue
            log.warning("consumer %s of %s: %r; retrying", consumer, stream, exc)
            await asyncio.sleep(0.5)
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            check_stopping()
            log.warning("consumer %s of %s: %r; retrying", consumer, stream, exc)
            pending_from = "0"
            await asyncio.sleep(0.5)


def consumer_task(
    *, stream_service: str, consumer: str, handler: BatchHandler
) -> Callable[[web.Application], Coroutine[Any, Any, None]]:
    """:func:`consume` as a background task of the consuming service's application."""

    async def run(app: web.Application) -> None:
        await consume(
            app[PG_POOL],
            app[REDIS],
            stream_service=stream_service,
            consumer=consumer,
            handler=handler,
        )

    return run
