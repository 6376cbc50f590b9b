"""Load with every request's result recorded, for the fault tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

import aiohttp
import asyncpg
from coupon_core.lifecycle import redis_from_url
from coupon_core.scripts import load_scripts
from coupon_dev.testing.poll import until
from redemption_service.app import LUA_DIR
from redemption_service.db.counters import Counters, expected_counters
from redemption_service.usecases.reconcile import reconcile
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from .conftest import coupon_in, post_signed, publish_customer, publish_group, redeem_body

REDEEM = "/v1.1/coupon/redeem"
GROUP = "S:90"
CODE = "FAULT"
LIMIT = 150
CUSTOMERS = 300


@dataclass
class Recorded:
    acked: dict[str, str] = field(default_factory=dict)  # redemption id -> customer mobile
    outcomes: Counter[str] = field(default_factory=Counter)
    done: int = 0


async def publish(redis: Redis) -> None:
    """What the owners publish (again, after Redis lost its data)."""
    await publish_group(redis, GROUP, [CODE], coupon={"usage_limit": LIMIT}, per_customer_limit=1)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(CUSTOMERS):
            pipe.set(f"customer:mobile:8{n:05d}", f"fc-{n}")
        await pipe.execute()
    await publish_customer(redis, "fc-0", mobile="800000")


async def republish(redis: Redis, within_s: float = 30.0) -> None:
    """Publish again once the restarted Redis answers (stale pooled connections fail once)."""
    await until(lambda: _published(redis), "Redis answering again", limit_s=within_s)


async def _published(redis: Redis) -> bool:
    try:
        await publish(redis)
    except (RedisConnectionError, OSError):
        return False
    return True


async def fire(
    http: aiohttp.ClientSession, targets: list[str], requests: int, record: Recorded
) -> None:
    gate = asyncio.Semaphore(24)

    async def one(i: int) -> None:
        mobile = f"8{i % CUSTOMERS:05d}"
        async with gate:
            try:
                status, body = await post_signed(
                    http, targets[i % len(targets)], REDEEM, redeem_body(coupon_in(CODE, mobile))
                )
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                record.outcomes[f"error:{type(exc).__name__}"] += 1
            else:
                if status == 200:
                    coupon = body["response"]["coupons"]["coupon"]
                    code = coupon["item_status"]["code"]
                    record.outcomes[str(code)] += 1
                    if code == 700:
                        record.acked[coupon["redemption_id"]] = mobile
                else:
                    record.outcomes[f"http:{status}"] += 1
            finally:
                record.done += 1

    await asyncio.gather(*(one(i) for i in range(requests)))


async def check_invariants(database_url: str, redis_url: str, record: Recorded) -> None:
    """No limit exceeded, every acknowledged redemption in the ledger, and counters equal to
    the ledger after one reconcile."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, customer_id FROM redemptions WHERE reversed_at IS NULL AND code = $1", CODE
        )
        live = await conn.fetch(
            "SELECT code, customer_id, count(*) AS n FROM redemptions "
            "WHERE group_ref = $1 AND reversed_at IS NULL GROUP BY code, customer_id",
            GROUP,
        )
    finally:
        await conn.close()
    ids = {str(r["id"]) for r in rows}
    assert len(rows) <= LIMIT
    assert len(record.acked) <= LIMIT
    assert set(record.acked) <= ids, "an acknowledged redemption is missing from the ledger"
    per_customer = Counter(r["customer_id"] for r in rows)
    assert max(per_customer.values(), default=0) <= 1
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    redis = cast(Redis, redis_from_url(redis_url))
    try:
        counters = Counters(redis, load_scripts(redis, LUA_DIR))
        await reconcile(pool, counters, None)
        warm, present = await counters.current(GROUP)
        expected = expected_counters(GROUP, [(r["code"], r["customer_id"], r["n"]) for r in live])
        assert warm
        assert present == expected
    finally:
        await redis.aclose()
        await pool.close()
