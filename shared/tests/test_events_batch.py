"""Batched consumption: a batch is handled in one transaction and acknowledged with one XACK;
duplicates are applied once, a failing event does not hold back the others, entries
trimmed from the stream are acknowledged. Runs on a Redis Cluster too (one stream key)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import pytest
from coupon_core import consumer, events, redis_keys
from coupon_core.consumer import consume, each
from coupon_core.db import Connection
from coupon_core.keys import PG_POOL, REDIS
from coupon_dev.testing.poll import until

STREAM = redis_keys.event_stream("redemption")
GROUP = "promotion"


@dataclass
class Stores:
    pool: asyncpg.Pool
    redis: Any


@pytest.fixture
async def stores(outbox_app: Any, redis_url: str) -> Stores:
    app = (await outbox_app(redis_url)).app
    return Stores(app[PG_POOL], app[REDIS])


Handler = Callable[[Connection, events.Event], Awaitable[None]]


@pytest.fixture
async def running(stores: Stores) -> AsyncIterator[Callable[[Handler], None]]:
    """Starts the consumer (claims quickly, for the tests that need them); stops it after."""
    tasks: list[asyncio.Task[None]] = []

    def start(handler: Handler) -> None:
        tasks.append(
            asyncio.create_task(
                consume(
                    stores.pool,
                    stores.redis,
                    stream_service="redemption",
                    consumer=GROUP,
                    handler=each(handler),
                    block_ms=50,
                    claim_idle_ms=300,
                    claim_every_s=0.05,
                )
            )
        )

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _add(redis: Any, event_id: str, *, payload: bytes | None = None) -> bytes:
    entry_id: bytes = await redis.xadd(
        STREAM,
        {
            "id": event_id,
            "type": "coupon.redeemed",
            "payload": payload if payload is not None else orjson.dumps({"n": event_id}),
            "occurred_at": "",
        },
    )
    return entry_id


async def _pending(redis: Any) -> int:
    return int((await redis.xpending(STREAM, GROUP))["pending"])


async def _processed(pool: asyncpg.Pool) -> set[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id FROM processed_events WHERE consumer = $1", GROUP)
    return {row["event_id"] for row in rows}


async def test_a_backlog_is_handled_once_per_event_in_batches_and_acknowledged(
    stores: Stores, running: Callable[[Handler], None]
) -> None:
    await stores.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    count = 2 * consumer.CONSUME_BATCH + 50
    for n in range(count):
        await _add(stores.redis, f"redemption:{n}")
    seen: list[str] = []
    transactions: set[int] = set()
    locked: set[bool] = set()

    async def handler(conn: Connection, event: events.Event) -> None:
        seen.append(event.id)
        transactions.add(await conn.fetchval("SELECT txid_current()"))
        # The batch holds the consumer's advisory lock: replicas' batches do not interleave.
        locked.add(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND classid = $1 AND objid::int = hashtext($2) "
                "AND objsubid = 2 AND granted)",
                consumer.CONSUMER_LOCK_NAMESPACE,
                f"{STREAM} {GROUP}",
            )
        )

    running(handler)

    async def all_acknowledged() -> bool:
        return len(seen) == count and await _pending(stores.redis) == 0

    await until(all_acknowledged, "every event handled and acknowledged")
    assert seen == [f"redemption:{n}" for n in range(count)]  # in stream order, once each
    assert len(transactions) == 3  # one per batch of up to CONSUME_BATCH
    assert locked == {True}
    assert len(await _processed(stores.pool)) == count


async def test_one_consumer_of_two_streams_handles_them_side_by_side(stores: Stores) -> None:
    """The lock serialises one group's batches of one stream, not everything a consumer
    reads: a batch of one stream held open does not stop the other stream's."""
    other = redis_keys.event_stream("issuance")
    for stream in (STREAM, other):
        await stores.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await _add(stores.redis, "redemption:1")
    other_done = asyncio.Event()

    async def hold_until_other_is_done(conn: Connection, event: events.Event) -> None:
        await asyncio.wait_for(other_done.wait(), timeout=30)

    async def mark_done(conn: Connection, event: events.Event) -> None:
        other_done.set()

    tasks = [
        asyncio.create_task(
            consume(
                stores.pool,
                stores.redis,
                stream_service=service,
                consumer=GROUP,
                handler=each(handler),
                block_ms=50,
            )
        )
        for service, handler in (
            ("redemption", hold_until_other_is_done),
            ("issuance", mark_done),
        )
    ]
    try:
        await until(lambda: _pending(stores.redis), "the held batch read", equals=1)
        await stores.redis.xadd(
            other,
            {"id": "issuance:1", "type": "coupon.issued", "payload": b"{}", "occurred_at": ""},
        )
        await until(
            lambda: _processed(stores.pool),
            "both streams' events handled while the first batch was held",
            equals={"redemption:1", "issuance:1"},
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_event_delivered_twice_is_applied_once(
    stores: Stores, running: Callable[[Handler], None]
) -> None:
    await stores.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    # Twice in one batch (a replay appended behind the original) ...
    for event_id in ("redemption:1", "redemption:2", "redemption:1"):
        await _add(stores.redis, event_id)
    seen: list[str] = []

    async def handler(conn: Connection, event: events.Event) -> None:
        seen.append(event.id)

    running(handler)

    async def first_acknowledged() -> bool:
        return len(seen) == 2 and await _pending(stores.redis) == 0

    await until(first_acknowledged, "the first batch handled and acknowledged")
    # ... and again in a later batch, beside a new event.
    await _add(stores.redis, "redemption:2")
    await _add(stores.redis, "redemption:3")

    async def second_handled() -> bool:
        return "redemption:3" in seen and await _pending(stores.redis) == 0

    await until(second_handled, "the second batch handled and acknowledged")
    assert seen == ["redemption:1", "redemption:2", "redemption:3"]
    assert await _processed(stores.pool) == {"redemption:1", "redemption:2", "redemption:3"}


async def test_a_failing_event_does_not_hold_back_the_others(
    stores: Stores, running: Callable[[Handler], None], caplog: pytest.LogCaptureFixture
) -> None:
    async with stores.pool.acquire() as conn:
        await conn.execute("CREATE TABLE handled (event_id text NOT NULL)")
    await stores.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    for n in range(5):
        await _add(stores.redis, f"redemption:{n}")
    unreadable = await _add(stores.redis, "redemption:bad-json", payload=b"{not json")
    await _add(stores.redis, "redemption:5")
    broken = True

    async def handler(conn: Connection, event: events.Event) -> None:
        await conn.execute("INSERT INTO handled (event_id) VALUES ($1)", event.id)
        if event.id == "redemption:2" and broken:
            await conn.execute("SELECT 1 / 0")  # a bug or bad data: fails every time

    async def handled() -> dict[str, int]:
        async with stores.pool.acquire() as conn:
            rows = await conn.fetch("SELECT event_id, count(*) FROM handled GROUP BY event_id")
        return {row["event_id"]: row["count"] for row in rows}

    with caplog.at_level(logging.WARNING, logger="coupon_core.consumer"):
        running(handler)

        async def others_done() -> bool:
            return await handled() == {f"redemption:{n}": 1 for n in (0, 1, 3, 4, 5)}

        await until(others_done, "the other events handled")

        async def retried_and_logged() -> bool:
            return caplog.text.count("event redemption:2 (coupon.redeemed") >= 2

        # Left pending, the failing event is claimed again and retried; each failure is logged.
        await until(retried_and_logged, "the failing event retried and logged")
    assert "unreadable" in caplog.text
    pending = await stores.redis.xpending_range(STREAM, GROUP, min="-", max="+", count=10)
    assert len(pending) == 2
    assert unreadable in {p["message_id"] for p in pending}
    assert "redemption:2" not in await _processed(stores.pool)

    broken = False  # fixed (say, a new release): the next claim handles it

    async def recovered() -> bool:
        return "redemption:2" in await _processed(stores.pool)

    await until(recovered, "the event handled once it no longer fails")
    assert await handled() == {f"redemption:{n}": 1 for n in range(6)}


async def test_entries_trimmed_from_the_stream_are_acknowledged(
    stores: Stores, running: Callable[[Handler], None]
) -> None:
    redis = stores.redis
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    # Read and never acknowledged: by this process before a restart (same consumer name),
    # and by a replica that died. Then the stream is trimmed past all of them.
    for n in range(3):
        await _add(redis, f"redemption:{n}")
    await redis.xreadgroup(GROUP, f"{socket.gethostname()}-{os.getpid()}", {STREAM: ">"}, count=3)
    for n in range(3, 6):
        await _add(redis, f"redemption:{n}")
    await redis.xreadgroup(GROUP, "dead-replica", {STREAM: ">"}, count=3)
    await _add(redis, "redemption:6")
    await redis.xtrim(STREAM, maxlen=1, approximate=False)
    assert await _pending(redis) == 6
    seen: list[str] = []

    async def handler(conn: Connection, event: events.Event) -> None:
        seen.append(event.id)

    running(handler)

    async def all_acknowledged() -> bool:
        return seen == ["redemption:6"] and await _pending(redis) == 0

    await until(all_acknowledged, "trimmed entries acknowledged")
