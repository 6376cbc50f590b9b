"""Streams are trimmed by consumer-group progress, never silently: a group that is down
finds every event when it comes back, replayed from the outbox when the stream's cap had to
trim what it had not read, and counted lost only when the outbox no longer has it. Real
PostgreSQL and Redis (a Redis Cluster with ``COUPON_TEST_REDIS_CLUSTER=1``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from coupon_core import events, redis_keys, stream_gaps, streams
from coupon_core.consumer import consume
from coupon_core.db import Connection
from coupon_core.keys import METRICS, PG_POOL, REDIS
from coupon_core.metrics import Metrics
from coupon_dev.testing.poll import until

SERVICE = "promotion"
STREAM = redis_keys.event_stream(SERVICE)
GROUP = "counter"
CAP = 50
# What the stream may reach: upkeep follows the publish that brings the events published since
# the last upkeep to a batch (min(RELAY_BATCH, CAP)), so less than two batches above the cap.
BOUND = CAP + 2 * CAP


@dataclass
class Stores:
    pool: asyncpg.Pool
    redis: Any
    metrics: Metrics

    def sample(self, name: str, group: str = GROUP) -> float:
        value = self.metrics.registry.get_sample_value(name, {"stream": STREAM, "group": group})
        return value or 0.0


@pytest.fixture
async def stores(outbox_app: Any, redis_url: str) -> Stores:
    app = (await outbox_app(redis_url)).app
    async with app[PG_POOL].acquire() as conn:
        await conn.execute("CREATE TABLE counted (coupon int PRIMARY KEY, times int NOT NULL)")
    return Stores(app[PG_POOL], app[REDIS], app[METRICS])


async def count(conn: Connection, batch: list[events.Event]) -> None:
    """The handler: one row per coupon, counting how many times its event was handled."""
    await conn.executemany(
        "INSERT INTO counted VALUES ($1, 1) "
        "ON CONFLICT (coupon) DO UPDATE SET times = counted.times + 1",
        [(int(event.payload["couponId"]),) for event in batch],
    )


@pytest.fixture
async def tasks() -> AsyncIterator[Callable[[Any], None]]:
    started: list[asyncio.Task[None]] = []

    def start(coro: Any) -> None:
        started.append(asyncio.create_task(coro))

    yield start
    for task in started:
        task.cancel()
    await asyncio.gather(*started, return_exceptions=True)


def relay(stores: Stores) -> Any:
    return events.relay_outbox(
        stores.pool,
        stores.redis,
        service=SERVICE,
        groups=(GROUP,),
        max_entries=CAP,
        metrics=stores.metrics,
    )


def consumer(stores: Stores) -> Any:
    return consume(stores.pool, stores.redis, stream_service=SERVICE, consumer=GROUP, handler=count)


async def _enqueue(pool: asyncpg.Pool, first: int, count: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for n in range(first, first + count):
            await events.enqueue(
                conn,
                service=SERVICE,
                event_type="coupon.created",
                payload={"code": f"C{n}", "group": "P:SPRING", "couponId": n},
            )


async def _counted(pool: asyncpg.Pool) -> dict[int, int]:
    rows = await pool.fetch("SELECT coupon, times FROM counted")
    return {row["coupon"]: row["times"] for row in rows}


async def _published(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def test_a_consumer_down_past_the_cap_gets_every_event_once(
    stores: Stores, tasks: Callable[[Any], None]
) -> None:
    events_published = 300
    lengths: list[int] = []
    tasks(relay(stores))
    # The group exists before anything is published: its events are kept for it.
    await until(lambda: _has_group(stores.redis), "the relay created the declared group")
    for first in range(0, events_published, 30):
        await _enqueue(stores.pool, first, 30)
        lengths.append(int(await stores.redis.xlen(STREAM)))

    async def trimmed_to_the_cap() -> bool:
        lengths.append(int(await stores.redis.xlen(STREAM)))
        return await _published(stores.pool) and lengths[-1] <= CAP

    await until(trimmed_to_the_cap, "every event published and the stream back under its cap")
    # The cap held while the consumer was down: less than two publish batches above it.
    assert max(lengths) < BOUND
    overflow = events_published - CAP
    assert stores.sample("events_trimmed_unconsumed_total") == overflow
    gaps = await stream_gaps.open_gaps(stores.redis, SERVICE)
    assert set(gaps) == {GROUP}
    assert gaps[GROUP].size == overflow

    tasks(consumer(stores))

    async def caught_up() -> bool:
        lengths.append(int(await stores.redis.xlen(STREAM)))
        counted = await _counted(stores.pool)
        return len(counted) == events_published and not await stream_gaps.open_gaps(
            stores.redis, SERVICE
        )

    await until(caught_up, "every event handled and the gap replayed", limit_s=60.0)
    assert await _counted(stores.pool) == dict.fromkeys(range(events_published), 1)
    assert max(lengths) < BOUND
    assert stores.sample("events_lost_total") == 0
    # Replayed entries the group had already read are not counted again.
    assert stores.sample("events_trimmed_unconsumed_total") == overflow


async def test_a_group_back_is_replayed_while_another_holds_the_stream_at_its_cap(
    stores: Stores, tasks: Callable[[Any], None]
) -> None:
    tasks(
        events.relay_outbox(
            stores.pool,
            stores.redis,
            service=SERVICE,
            groups=(GROUP, "down"),
            max_entries=CAP,
            metrics=stores.metrics,
        )
    )
    await until(lambda: _has_group(stores.redis), "the relay created the declared groups")
    await _enqueue(stores.pool, 0, 100)

    async def trimmed() -> bool:
        return await _published(stores.pool) and int(await stores.redis.xlen(STREAM)) <= CAP

    await until(trimmed, "the stream trimmed to its cap")
    tasks(consumer(stores))  # the group "down" never comes back

    async def replayed() -> bool:
        return GROUP not in await stream_gaps.open_gaps(stores.redis, SERVICE)

    await until(replayed, "the gap of the group that came back replayed", limit_s=60.0)
    await until(
        lambda: _all_counted(stores.pool, 100), "every event handled by the group that came back"
    )
    assert await _counted(stores.pool) == dict.fromkeys(range(100), 1)
    assert int(await stores.redis.xlen(STREAM)) < BOUND
    # What the replay pushed out of the stream joined the gap of the group still down.
    assert (await stream_gaps.open_gaps(stores.redis, SERVICE))["down"].size >= 50
    assert stores.sample("events_lost_total") == 0
    assert stores.sample("events_lost_total", "down") == 0


async def _all_counted(pool: asyncpg.Pool, total: int) -> bool:
    return len(await _counted(pool)) == total


async def _has_group(redis: Any) -> bool:
    if not await redis.exists(STREAM):
        return False
    return GROUP in {_text(g["name"]) for g in await redis.xinfo_groups(STREAM)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _read(redis: Any, group: str, count: int) -> list[bytes]:
    reply = await redis.xreadgroup(group, "reader", {STREAM: ">"}, count=count)
    return [entry_id for _, entries in reply or [] for entry_id, _ in entries]


async def _maintain(stores: Stores, groups: tuple[str, ...]) -> None:
    await events.maintain_stream(
        stores.pool,
        stores.redis,
        service=SERVICE,
        groups=groups,
        max_entries=1000,
        metrics=streams.StreamMetrics.of(stores.metrics),
        tail=2,
    )


async def _ids(redis: Any) -> list[bytes]:
    return [entry_id for entry_id, _ in await redis.xrange(STREAM)]


async def test_trimming_keeps_what_a_group_has_pending_or_not_read(stores: Stores) -> None:
    redis = stores.redis
    await streams.ensure_groups(redis, STREAM, ("reader-a", "reader-b"))
    ids = [await redis.xadd(STREAM, {"id": f"{SERVICE}:{n}", "type": "t"}) for n in range(20)]
    pending_a = await _read(redis, "reader-a", 10)  # delivered to a, not acknowledged

    await _maintain(stores, ("reader-a", "reader-b"))
    assert await _ids(redis) == ids  # b has read nothing, a has acknowledged nothing

    await _read(redis, "reader-b", 20)
    await redis.xack(STREAM, "reader-b", *ids)
    await redis.xack(STREAM, "reader-a", *pending_a[:5])
    await _maintain(stores, ("reader-a", "reader-b"))
    # a still has entries 5..9 pending and 10..19 not delivered.
    assert await _ids(redis) == ids[5:]

    await redis.xack(STREAM, "reader-a", *pending_a[5:])
    await _read(redis, "reader-a", 10)
    await redis.xack(STREAM, "reader-a", *ids[10:])
    await _maintain(stores, ("reader-a", "reader-b"))
    assert await _ids(redis) == ids[-2:]  # every group is done: only the tail stays
    assert stores.sample("events_trimmed_unconsumed_total", "reader-a") == 0
    assert stores.sample("events_trimmed_unconsumed_total", "reader-b") == 0
    assert not await stream_gaps.open_gaps(redis, SERVICE)


async def test_a_gap_whose_outbox_rows_are_gone_is_counted_lost(
    stores: Stores, tasks: Callable[[Any], None], caplog: pytest.LogCaptureFixture
) -> None:
    tasks(relay(stores))
    await until(lambda: _has_group(stores.redis), "the relay created the declared group")
    await _enqueue(stores.pool, 0, 100)

    async def trimmed() -> bool:
        return await _published(stores.pool) and int(await stores.redis.xlen(STREAM)) <= CAP

    await until(trimmed, "the stream trimmed to its cap")
    gaps = await stream_gaps.open_gaps(stores.redis, SERVICE)
    assert gaps[GROUP].size == 50
    # Outbox retention removed the oldest rows before the consumer came back.
    removed = await stores.pool.execute("DELETE FROM outbox WHERE (payload->>'couponId')::int < 30")
    assert removed == "DELETE 30"

    with caplog.at_level(logging.ERROR, logger="coupon_core.stream_gaps"):
        tasks(consumer(stores))

        async def replayed() -> bool:
            done = not await stream_gaps.open_gaps(stores.redis, SERVICE)
            return done and len(await _counted(stores.pool)) == 70

        await until(replayed, "the gap replayed as far as the outbox reaches", limit_s=60.0)
    assert await _counted(stores.pool) == dict.fromkeys(range(30, 100), 1)
    assert stores.sample("events_lost_total") == 30
    assert "30 events lost" in caplog.text
    assert "reconcile" in caplog.text


def test_gap_runs_cover_the_ids_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stream_gaps.runs_of([7, 3, 4, 5, 9, 8, 4]) == [(3, 5), (7, 9)]
    gap = stream_gaps.Gap((), (1, 0)).joined([3, 4, 5, 9], (5, 0)).joined([6, 12], (2, 0))
    assert gap.runs == ((3, 6), (9, 9), (12, 12))
    assert gap.until == (5, 0)
    assert gap.size == 6
    assert gap.without(4, 9).runs == ((3, 3), (12, 12))
    assert stream_gaps.Gap.loads(gap.dumps()) == gap
    monkeypatch.setattr(stream_gaps, "MAX_RUNS", 2)
    # Past the limit the smallest hole is bridged: its ids are replayed, or counted lost.
    assert stream_gaps.runs_of([1, 3, 10]) == [(1, 3), (10, 10)]
