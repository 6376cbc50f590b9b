"""A cold group with many uses is rebuilt in chunks, and other groups are served meanwhile."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import asyncpg
from aiohttp import web
from coupon_core import redis_keys
from coupon_core.keys import METRICS, PG_POOL
from coupon_dev.testing.poll import until
from redemption_service.db.counters import WRITE_CHUNK
from redemption_service.keys import COUNTERS
from redemption_service.usecases.rebuild import rebuild_group
from redis.asyncio import Redis

from .conftest import coupon_in, publish_customer, publish_group, redeem_body

REDEEM = "/v1.1/coupon/redeem"
BIG, OTHER = "P:BIG", "S:77"
USES, REVERSED = 20_000, 500
CODES, CUSTOMERS = 7_000, 9_000
# Archived months' uses (redemption_rollups): one coupon-by-customer pair, 5 uses.
ROLLUP = ("B1", "c1", 5)

# Use i: coupon B<i % CODES>, customer c<i % CUSTOMERS>; the first REVERSED are reversed.
SEED = """
INSERT INTO redemptions (code, group_ref, customer_id, amount, coupon_value, reversed_at)
SELECT 'B' || (i % $2), $1, 'c' || (i % $3), 10, 1,
       CASE WHEN i < $4 THEN now() END
FROM unnest(ARRAY(SELECT generate_series(0, $5 - 1))) AS i
"""
ROLLUP_ROW = (
    "INSERT INTO redemption_rollups (group_ref, code, customer_id, uses) VALUES ($1, $2, $3, $4)"
)
REBUILD_WAITS = """
SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE c.relname = 'redemption_rollups' AND NOT l.granted
"""


def expected() -> dict[str, int]:
    """Every counter of BIG the seeded ledger implies, computed here in full."""
    want: dict[str, int] = {}
    uses = [(f"B{i % CODES}", f"c{i % CUSTOMERS}", 1) for i in range(REVERSED, USES)]
    for code, customer, n in [*uses, ROLLUP]:
        for name in (
            redis_keys.redeemed_coupon(BIG, code),
            redis_keys.redeemed_coupon_by_customer(BIG, code, customer),
            redis_keys.redeemed_total(BIG),
            redis_keys.redeemed_by_customer(BIG, customer),
        ):
            want[name] = want.get(name, 0) + n
    return want


def rebuild_calls(app: web.Application) -> tuple[int, int]:
    """Calls so far of rebuild_chunk.lua (a chunk of counters) and rebuild.lua (the marker)."""
    found = [
        app[METRICS].registry.get_sample_value(
            "redis_script_duration_seconds_count", {"script": script}
        )
        for script in ("rebuild_chunk", "rebuild")
    ]
    return int(found[0] or 0), int(found[1] or 0)


def since(before: tuple[int, int], app: web.Application) -> tuple[int, int]:
    after = rebuild_calls(app)
    return after[0] - before[0], after[1] - before[1]


async def test_a_big_cold_group_is_rebuilt_in_chunks_while_others_redeem(
    through_gateway: Any, app: web.Application, redis: Redis, database_url: str
) -> None:
    client = await through_gateway(app)
    await publish_group(redis, BIG, ["B1"])
    await publish_group(redis, OTHER, ["O1", "O2"])
    await publish_customer(redis, "c-1", mobile="111")

    async def redeem(code: str) -> int:
        resp = await client.post(REDEEM, json=redeem_body(coupon_in(code, "111")))
        assert resp.status == 200, await resp.text()
        found: int = (await resp.json())["response"]["coupons"]["coupon"]["item_status"]["code"]
        return found

    assert await redeem("O1") == 700  # OTHER is warm from here on
    pool = app[PG_POOL]
    await pool.execute(SEED, BIG, CODES, CUSTOMERS, REVERSED, USES)
    await pool.execute(ROLLUP_ROW, BIG, *ROLLUP)
    assert not await redis.exists(redis_keys.redemption_warm(BIG))

    before = rebuild_calls(app)
    # Hold the rebuild, once it has the group's exclusive lock, on its ledger read.
    blocker = await asyncpg.connect(database_url)
    try:
        held = blocker.transaction()
        await held.start()
        await blocker.execute("LOCK TABLE redemption_rollups IN ACCESS EXCLUSIVE MODE")
        rebuild = asyncio.create_task(rebuild_group(pool, app[COUNTERS], BIG))

        async def waiting() -> bool:
            return bool(await blocker.fetchval(REBUILD_WAITS))

        await until(waiting, "the rebuild waiting on its ledger read")
        # Another group's redeem completes while the big rebuild holds its group's lock.
        assert await redeem("O2") == 700
        assert not rebuild.done()
        assert not await redis.exists(redis_keys.redemption_warm(BIG))
        await held.commit()
    finally:
        await blocker.close()
    want = expected()
    assert await rebuild == sum(want.values())  # the drift: Redis had none of them
    assert await redis.exists(redis_keys.redemption_warm(BIG))
    assert int(await redis.get(redis_keys.redeemed_total(BIG)) or 0) == USES - REVERSED + ROLLUP[2]
    _, have = await app[COUNTERS].current(BIG)
    assert len(have) == len(want)
    assert have == want
    sample = [
        redis_keys.redeemed_coupon_by_customer(BIG, *ROLLUP[:2]),
        redis_keys.redeemed_coupon(BIG, "B1"),
    ]
    assert [int(await redis.get(k) or 0) for k in sample] == [want[k] for k in sample]
    # Written in chunks: no single script call carried every counter.
    chunks, marks = since(before, app)
    assert chunks >= math.ceil(len(want) / WRITE_CHUNK) > 1
    assert marks == 1  # the marker, set last
    # The group is warm: redeems of it are judged against the rebuilt counters.
    assert await redeem("B1") == 700
    assert int(await redis.get(redis_keys.redeemed_total(BIG)) or 0) == USES - REVERSED + 6
    # A reconcile's repair of the group (force) is chunked too, the group cold meanwhile:
    # the coupon counters of codes whose facts are gone (all but B1) are deleted, not
    # counted as drift; the total's +3 is.
    await redis.incrby(redis_keys.redeemed_total(BIG), 3)
    before = rebuild_calls(app)
    assert await rebuild_group(pool, app[COUNTERS], BIG, force=True) == 3
    chunks, marks = since(before, app)
    assert (chunks > 1, marks) == (True, 1)
    for name, n in [
        (redis_keys.redeemed_coupon(BIG, "B1"), 1),
        (redis_keys.redeemed_coupon_by_customer(BIG, "B1", "c-1"), 1),
        (redis_keys.redeemed_total(BIG), 1),
        (redis_keys.redeemed_by_customer(BIG, "c-1"), 1),
    ]:
        want[name] = want.get(name, 0) + n
    retired = ":r:coupon:", ":r:cc:"
    kept = {
        k: v
        for k, v in want.items()
        if not any(part in k for part in retired) or k.split(":")[4] == "B1"
    }
    assert await app[COUNTERS].current(BIG) == (True, kept)
