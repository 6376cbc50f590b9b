"""The outbox relay: rows are marked published only once Redis has them, and the retained
outbox is published again when Redis lost its data (the relay marker is gone)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import orjson
import pytest
from coupon_core import events, redis_keys
from coupon_core.keys import PG_POOL, REDIS
from coupon_dev.testing.poll import until

STREAM = redis_keys.event_stream("promotion")


@pytest.fixture
async def stores(outbox_app: Any, redis_url: str) -> tuple[Any, Any]:
    app = (await outbox_app(redis_url)).app
    return app[PG_POOL], app[REDIS]


@pytest.fixture
async def relay(stores: tuple[Any, Any]) -> AsyncIterator[Callable[[], None]]:
    tasks: list[asyncio.Task[None]] = []

    def start() -> None:
        pool, redis = stores
        tasks.append(asyncio.create_task(events.relay_outbox(pool, redis, service="promotion")))

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _enqueue(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for n in range(count):
            await events.enqueue(
                conn,
                service="promotion",
                event_type="coupon.created",
                payload={"code": f"C{n}", "group": "P:SPRING", "couponId": n},
            )


async def _unpublished(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def _stream_ids(redis: Any) -> list[str]:
    return [fields[b"id"].decode() for _, fields in await redis.xrange(STREAM)]


async def test_rows_stay_unpublished_until_redis_has_them(
    stores: tuple[Any, Any], relay: Callable[[], None], caplog: pytest.LogCaptureFixture
) -> None:
    pool, redis = stores
    await redis.set(redis_keys.relay_alive("promotion"), "now")  # no replay: the usual path
    await redis.set(STREAM, "not a stream")  # every XADD to it fails (WRONGTYPE)
    await _enqueue(pool, 3)
    with caplog.at_level(logging.WARNING, logger="coupon_core.events"):
        relay()

        async def failed() -> bool:
            return "outbox relay of promotion" in caplog.text

        await until(failed, "a failed publish")
    assert await _unpublished(pool) == 3  # the mark was rolled back with the failure

    await redis.delete(STREAM)

    async def published() -> bool:
        return await _unpublished(pool) == 0

    await until(published, "the rows published once Redis accepts them")
    assert await _stream_ids(redis) == [f"promotion:{n}" for n in (1, 2, 3)]


async def test_the_retained_outbox_is_replayed_after_redis_lost_it(
    stores: tuple[Any, Any], relay: Callable[[], None]
) -> None:
    pool, redis = stores
    await _enqueue(pool, 3)
    relay()

    async def published() -> bool:
        return await _unpublished(pool) == 0 and len(await _stream_ids(redis)) == 3

    await until(published, "the outbox published")
    await _enqueue(pool, 2)

    async def followed() -> bool:
        return await _unpublished(pool) == 0 and len(await _stream_ids(redis)) == 5

    await until(followed, "new rows published while running")

    # Redis lost its data: the stream and the relay marker with it.
    await redis.delete(STREAM)
    await redis.delete(redis_keys.relay_alive("promotion"))

    async def replayed() -> bool:
        # The marker is set once the replay is committed, just after the entries appear.
        marker = await redis.exists(redis_keys.relay_alive("promotion"))
        return bool(marker) and len(await _stream_ids(redis)) == 5

    await until(replayed, "the retained outbox replayed and the marker set again")
    assert await _stream_ids(redis) == [f"promotion:{n}" for n in range(1, 6)]
    _, fields = (await redis.xrange(STREAM, count=1))[0]
    assert fields[b"type"] == b"coupon.created"
    assert orjson.loads(fields[b"payload"]) == {"code": "C0", "group": "P:SPRING", "couponId": 0}


async def test_a_replay_goes_batch_by_batch_in_creation_order(
    stores: tuple[Any, Any],
) -> None:
    """A replay never takes the whole retained outbox at once: at 1,000 events a second the
    24 hours it retains are 86 million rows."""
    pool, redis = stores
    await _enqueue(pool, 120)
    await pool.execute("UPDATE outbox SET published_at = now()")  # published before the loss
    await pool.execute("UPDATE outbox SET created_at = now() - interval '25 hours' WHERE id <= 10")
    cursor, sizes = events.REPLAY_START, []
    while True:
        count, cursor = await events.replay_batch(pool, redis, "promotion", cursor, limit=50)
        sizes.append(count)
        if count < 50:
            break
    # The ten rows past the replay window stay out; the others come once each, in order.
    assert sizes == [50, 50, 10]
    assert await _stream_ids(redis) == [f"promotion:{n}" for n in range(11, 121)]
