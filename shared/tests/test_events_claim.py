"""A running consumer takes over the entries a dead replica read and never acknowledged,
without waiting for a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from coupon_core import events, redis_keys
from coupon_core.consumer import consume, each
from coupon_core.db import Connection
from coupon_core.keys import PG_POOL, REDIS
from coupon_dev.testing.poll import until


async def test_running_consumer_claims_what_a_dead_replica_left_pending(
    outbox_app: Any, redis_url: str
) -> None:
    app = (await outbox_app(redis_url)).app
    pool, redis = app[PG_POOL], app[REDIS]
    stream = redis_keys.event_stream("promotion")
    seen: list[events.Event] = []

    async def handler(conn: Connection, event: events.Event) -> None:
        seen.append(event)

    await redis.xgroup_create(stream, "redemption", id="0", mkstream=True)
    # A replica read an entry and died before acknowledging it. The live consumer starts
    # while the entry is still fresh (not claimable at start-up), so only a claim made while
    # running can take it over.
    await redis.xadd(
        stream,
        {
            "id": "promotion:1",
            "type": "coupon.created",
            "payload": orjson.dumps({"code": "X", "group": "P:X", "couponId": 1}),
            "occurred_at": "",
        },
    )
    await redis.xreadgroup("redemption", "dead-replica", {stream: ">"}, count=10)
    consumer = asyncio.create_task(
        consume(
            pool,
            redis,
            stream_service="promotion",
            consumer="redemption",
            handler=each(handler),
            claim_idle_ms=1_500,
            claim_every_s=0.1,
        )
    )
    try:

        async def handled() -> bool:
            return len(seen) == 1

        await until(handled, "the claimed entry handled", limit_s=10.0)

        async def acknowledged() -> bool:
            pending: Any = await redis.xpending(stream, "redemption")
            return int(pending["pending"]) == 0

        await until(acknowledged, "the claimed entry acknowledged", limit_s=10.0)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert seen[0].id == "promotion:1"
