"""Domain events: a transactional outbox relayed to Redis Streams, and idempotent consumers.

* A service writes an event with :func:`enqueue` in the same transaction as the change it
  describes (table ``outbox``, the shared migration ``shared_migrations/outbox.sql``).
* :func:`relay_outbox` (a background task) publishes unpublished rows to the service's
  stream ``events:<service>``, up to 500 a round: one ``UPDATE ... RETURNING`` takes and
  marks them (``FOR UPDATE SKIP LOCKED``: several replicas share the work), one pipeline
  XADDs them, and only then the transaction commits the mark, so a failure publishes them
  again later, never loses them. While idle it polls a cheap ``EXISTS`` (partial index
  ``outbox_unpublished``). Once a second it checks the relay marker: missing, Redis lost
  its data and the relay publishes the retained outbox (24 hours) again, a batch a round
  (:func:`replay_batch`, in creation order) so the stream's upkeep keeps pace, and sets
  the marker once it is all out; consumers are idempotent, so that is safe.
* The relay also keeps its stream bounded (:func:`maintain_stream`, every second and after
  each batch's worth of events): the consumer groups :data:`coupon_core.streams.CONSUMER_GROUPS`
  declares are created before anything is published, entries are trimmed only once every
  group has consumed them (:mod:`coupon_core.streams`), and past ``STREAM_MAX_ENTRIES``
  what a group has not read is recorded as a gap before it is trimmed, then replayed to it
  from the outbox, or counted lost when outbox retention removed it
  (:mod:`coupon_core.stream_gaps`). No event a group has not consumed leaves the stream
  without one or the other.
* :func:`coupon_core.consumer.consume` (a background task) reads a stream through a
  consumer group, up to 100 entries at a time. Each batch is one transaction: a single
  ``processed_events`` insert of the batch's event ids tells which are new, the handler
  runs for those (in stream order, in that transaction), the commit records both; then
  one XACK acknowledges the batch. A batch that fails is retried event by event, so one
  failing event does not hold back the others; it stays pending, logged at each retry.

Event types and payloads (camelCase JSON; ``group`` is a group ref (redis_keys.group_ref) such as
``S:12`` or ``P:HOLIDAY-SALE``):

==============================  ==================  =============================================
type                            stream (producer)   payload
==============================  ==================  =============================================
coupon.created                  promotion           code, group, couponId
promotion.updated               promotion           group, promotionCode (a generated batch:
                                                    couponsGenerated, jobId of a job's batch)
generation.completed            promotion           jobId, promotionCode, requested, generated,
                                                    status ("done" | "failed"), completedAt
coupon.issued                   issuance            code, group, couponId, customerId, issuedAt
series.updated                  issuance            group, seriesId
limit.reached                   issuance,           scope, group, code, counter, limit, used,
                                redemption          reachedAt (:func:`limit_reached`)
coupon.redeemed                 redemption          redemptionId, code, group, customerId,
                                                    amount, couponValue, transactionNumber,
                                                    redeemedAt
coupon.redemption_reversed      redemption          redemptionId, code, group, customerId,
                                                    reversedAt
coupon.activated                redemption          activationId, code, group, userId,
                                                    subscriptionId, notifyUser, activatedAt
==============================  ==================  =============================================

An activation uses the coupon once, like a redemption: ``used`` counts both.
``transactionNumber`` is null when the redeem named no transaction.

``generation.completed`` is written once per generation job, in the transaction that
finishes it: its last batch (``done``), or its failure (``failed``, the promotion deleted
included). A generation within the request has no job and no such event.

``limit.reached`` is written in the same statement or transaction as the use that made a
counter go from limit - 1 to its limit, so exactly once per reaching (a use given back
takes its event with it; a reversal and a new use reach it again): ``scope`` "coupon" (a
coupon's usage limit; ``code`` names it), "promotion" or "series" (the group's total limit,
``code`` null); ``counter`` "redemptions" (redeems; an activation, which uses its coupon
once, reaches a coupon limit of 1) or "issues" (a series' ``maxCreate``); ``used`` is the
counter's value after the use, the limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from coupon_core import redis_keys, stream_gaps, streams
from coupon_core.db import Connection
from coupon_core.keys import CORE_SETTINGS, METRICS, PG_POOL, REDIS
from coupon_core.lifecycle import check_stopping
from coupon_core.metrics import Metrics

log = logging.getLogger(__name__)

RELAY_BATCH = 500
RELAY_IDLE_S = 0.05
MARKER_CHECK_S = 1.0
REPLAY_WINDOW = timedelta(hours=24)
STREAM_MAX_ENTRIES = 1_000_000
# Stream maintenance runs in one replica at a time: (namespace, hashtext(stream)).
STREAM_LOCK_NAMESPACE = 72_418
_TRY_STREAM_LOCK = "SELECT pg_try_advisory_xact_lock($1, hashtext($2))"


@dataclass(frozen=True, slots=True)
class Event:
    id: str  # "<service>:<outbox id>", unique platform-wide
    type: str
    payload: dict[str, Any]
    occurred_at: str


LIMIT_REACHED = "limit.reached"
LimitCounter = Literal["redemptions", "issues"]
_SCOPES: dict[str, str] = {redis_keys.PROMOTION: "promotion", redis_keys.SERIES: "series"}


def limit_reached(
    *, group: str, code: str | None, counter: LimitCounter, limit: int, reached_at: str | None
) -> dict[str, Any]:
    """The payload of a ``limit.reached`` event: a use took the last unit of ``limit``.
    With ``code`` the coupon's own counter, without it the total of ``group`` (a group
    ref: its kind names the scope). A statement that stamps the time itself replaces
    ``reachedAt`` (None here)."""
    return {
        "scope": "coupon" if code is not None else _SCOPES[group.partition(":")[0]],
        "group": group,
        "code": code,
        "counter": counter,
        "limit": limit,
        "used": limit,
        "reachedAt": reached_at,
    }


async def enqueue(
    conn: Connection, *, service: str, event_type: str, payload: dict[str, Any]
) -> None:
    """Record an event; call inside the transaction that makes the change."""
    await conn.execute(
        "INSERT INTO outbox (stream, event_type, payload) VALUES ($1, $2, $3)",
        redis_keys.event_stream(service),
        event_type,
        payload,
    )


# Mark a batch published and return it, in one statement. The rows stay locked (other
# replicas skip them) and the mark uncommitted until the caller has published them.
_TAKE_UNPUBLISHED = (
    "UPDATE outbox o SET published_at = now() FROM (SELECT id FROM outbox "
    "WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) AS batch "
    "WHERE o.id = batch.id RETURNING o.id, o.stream, o.event_type, o.payload, o.created_at"
)
# The next batch of the retained (published) outbox after the cursor ($3, $4), in
# (created_at, id) order: the index outbox_published_created starts each batch at the cursor.
_TAKE_RETAINED = (
    "UPDATE outbox o SET published_at = now() FROM (SELECT id FROM outbox "
    "WHERE published_at IS NOT NULL AND created_at > now() - $1::interval "
    "AND created_at >= $3 AND (created_at, id) > ($3, $4) "
    "ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) AS batch "
    "WHERE o.id = batch.id RETURNING o.id, o.stream, o.event_type, o.payload, o.created_at"
)
# Where a replay starts: before every retained row.
REPLAY_START: tuple[datetime, int] = (datetime.min.replace(tzinfo=UTC), 0)
# Served by the partial index outbox_unpublished: cheap enough to poll when idle.
_ANY_UNPUBLISHED = "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"


async def _publish_batch(
    pool: asyncpg.Pool, redis: Redis, service: str, limit: int = RELAY_BATCH
) -> int:
    """Publish a batch, then commit it as published: a failure in between publishes it again
    later (at least once; consumers are idempotent), never loses it."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_TAKE_UNPUBLISHED, limit)
        if rows:
            await streams.publish_rows(redis, service, rows)
        return len(rows)


async def replay_batch(
    pool: asyncpg.Pool,
    redis: Redis,
    service: str,
    cursor: tuple[datetime, int],
    limit: int = RELAY_BATCH,
) -> tuple[int, tuple[datetime, int]]:
    """Publish again the next ``limit`` rows of the retained outbox after ``cursor`` (start
    at :data:`REPLAY_START`), as :func:`_publish_batch` does; how many, and the next cursor.
    A replay goes batch by batch, so the stream's upkeep keeps up with it."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_TAKE_RETAINED, REPLAY_WINDOW, limit, *cursor)
        if not rows:
            return 0, cursor
        await streams.publish_rows(redis, service, rows)
        last = max(rows, key=lambda row: (row["created_at"], row["id"]))
        return len(rows), (last["created_at"], int(last["id"]))


async def maintain_stream(
    pool: asyncpg.Pool,
    redis: Redis,
    *,
    service: str,
    groups: Sequence[str],
    max_entries: int,
    metrics: streams.StreamMetrics,
    tail: int = streams.STREAM_TAIL,
) -> bool:
    """One round of upkeep of ``service``'s stream: its declared ``groups`` exist, its
    length and each group's lag are exported, and, in one replica at a time (a PostgreSQL
    try-advisory-lock), what every group consumed is trimmed, the stream is cut back to
    ``max_entries`` recording what groups lose as gaps, and a batch of each gap whose group
    is back is replayed. True when something was replayed: the next round may follow at once."""
    stream = redis_keys.event_stream(service)
    state = await streams.read_state(redis, stream)
    if state is None or not set(groups) <= {group.name for group in state.groups}:
        await streams.ensure_groups(redis, stream, groups)
        state = await streams.read_state(redis, stream)
    if state is None:
        return False
    metrics.observe(stream, state)
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(_TRY_STREAM_LOCK, STREAM_LOCK_NAMESPACE, stream):
            return False
        await streams.trim_consumed(redis, stream, state, tail=min(tail, max_entries // 10))
        await stream_gaps.trim_over_cap(
            redis,
            service=service,
            stream=stream,
            groups=state.groups,
            max_entries=max_entries,
            metrics=metrics,
        )
        return await stream_gaps.replay(
            conn,
            redis,
            service=service,
            stream=stream,
            groups=state.groups,
            max_entries=max_entries,
            metrics=metrics,
        )


async def relay_outbox(
    pool: asyncpg.Pool,
    redis: Redis,
    *,
    service: str,
    groups: Sequence[str] | None = None,
    max_entries: int = STREAM_MAX_ENTRIES,
    metrics: Metrics | None = None,
) -> None:
    """Publish the outbox forever; a background task of every event-producing service.

    Before anything is published the consumer groups of the stream exist (``groups``, by
    default those :data:`coupon_core.streams.CONSUMER_GROUPS` declares). While events
    flow, each round publishes a batch (one UPDATE ... RETURNING, one pipeline, a commit).
    Once a round finds nothing, the next ones only poll ``_ANY_UNPUBLISHED`` until there is
    work again. The relay marker (missing: Redis lost its data, replay the retained outbox)
    is checked at most every ``MARKER_CHECK_S``. The stream is maintained
    (:func:`maintain_stream`) every ``MAINTAIN_EVERY_S`` and after each batch's worth of
    published events, so it holds less than ``max_entries`` plus two batches (the publish
    that completes a batch's worth can itself be a whole batch)."""
    declared = tuple(streams.CONSUMER_GROUPS.get(service, ()) if groups is None else groups)
    stream_metrics = streams.StreamMetrics.of(metrics or Metrics(service))
    stream = redis_keys.event_stream(service)
    marker = redis_keys.relay_alive(service)
    batch = min(RELAY_BATCH, max_entries)
    groups_ready = False
    next_marker_check = next_upkeep = 0.0
    # Set while the retained outbox is being replayed (Redis lost it), a batch a round.
    replay_cursor: tuple[datetime, int] | None = None
    replayed = 0
    since_upkeep = 0
    idle = False
    while True:
        # A cancellation a library swallowed on its way up must still end the loop.
        check_stopping()
        try:
            if not groups_ready:
                await streams.ensure_groups(redis, stream, declared)
                groups_ready = True
            if replay_cursor is None and time.monotonic() >= next_marker_check:
                if not await redis.exists(marker):
                    # Redis lost its data, consumer groups included: they come back first.
                    await streams.ensure_groups(redis, stream, declared)
                    replay_cursor, replayed = REPLAY_START, 0
                next_marker_check = time.monotonic() + MARKER_CHECK_S
            published = 0
            if replay_cursor is not None:
                published, replay_cursor = await replay_batch(
                    pool, redis, service, replay_cursor, batch
                )
                replayed += published
                if published < batch:  # the whole retained outbox is in the stream again
                    replay_cursor = None
                    await redis.set(marker, datetime.now(UTC).isoformat())
                    if replayed:
                        log.warning(
                            "redis had no relay marker: replayed %d outbox events", replayed
                        )
            if not idle or await pool.fetchval(_ANY_UNPUBLISHED):
                fresh = await _publish_batch(pool, redis, service, limit=batch)
                idle = fresh == 0
                published += fresh
            since_upkeep += published
            if since_upkeep >= batch or time.monotonic() >= next_upkeep:
                # Scheduled first: upkeep that fails waits its turn, publishing goes on.
                since_upkeep = 0
                next_upkeep = time.monotonic() + streams.MAINTAIN_EVERY_S
                if await maintain_stream(
                    pool,
                    redis,
                    service=service,
                    groups=declared,
                    max_entries=max_entries,
                    metrics=stream_metrics,
                ):
                    next_upkeep = 0.0
            if published < batch:
                await asyncio.sleep(RELAY_IDLE_S)
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            check_stopping()
            log.warning("outbox relay of %s: %r; retrying", service, exc)
            await asyncio.sleep(0.5)


def relay_task(service: str) -> Callable[[web.Application], Coroutine[Any, Any, None]]:
    """``service``'s outbox relay as a background task of its application
    (coupon_core.lifecycle.background_task_ctx), trimming at ``STREAM_MAX_ENTRIES``."""

    async def relay(app: web.Application) -> None:
        await relay_outbox(
            app[PG_POOL],
            app[REDIS],
            service=service,
            max_entries=app[CORE_SETTINGS].stream_max_entries,
            metrics=app[METRICS],
        )

    return relay
