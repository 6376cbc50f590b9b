"""The group lock key, the transaction ended by hand, and connections the pool reuses."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from coupon_core import redis_keys
from coupon_core.keys import PG_POOL
from coupon_dev.testing.poll import until
from redemption_service.db import ledger, locks
from redemption_service.db.counters import Use
from redemption_service.keys import COUNTERS
from redemption_service.usecases.rebuild import rebuild_group
from redis.asyncio import Redis

from .conftest import coupon_in, ledger_rows, publish_customer, publish_group, redeem_body

REDEEM = "/v1.1/coupon/redeem"
ADVISORY_LOCKS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
WAITING = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
WAIT_S = 10.0


async def test_group_key_is_hashtextextended(conn: asyncpg.Connection) -> None:
    rnd = random.Random(7)
    texts = ["", "S:1", "P:SUMMER", "S:844312", "é", "グループ", "x" * 11, "x" * 12, "x" * 13]
    texts += ["x" * 24, "x" * 25]
    texts += [
        "".join(rnd.choice("azAZ09:-_é日🎉") for _ in range(rnd.randrange(70))) for _ in range(300)
    ]
    rows = await conn.fetch(
        "SELECT t, hashtextextended(t, 0) AS k FROM unnest($1::text[]) AS t", texts
    )
    assert [locks.group_key(r["t"]) for r in rows] == [r["k"] for r in rows]


async def test_every_group_lock_takes_the_same_key(
    client: Any, database_url: str, conn: asyncpg.Connection
) -> None:
    other = await asyncpg.connect(database_url)
    try:
        await other.execute("SET lock_timeout = '100ms'")
        # A redeem batch's shared locks (taken with its redemption ids)...
        _, ids = await ledger.lock_and_reserve(conn, ["S:2", "P:ÉTÉ"], 2)
        assert len(set(ids)) == 2
        for group in ("S:2", "P:ÉTÉ"):
            # ... keep out the rebuild's exclusive lock,
            with pytest.raises(asyncpg.LockNotAvailableError):
                async with other.transaction():
                    await locks.lock_exclusive(other, group)
            # and the key a replica computing it in SQL would take.
            assert not await other.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", group
            )
        # A reversal's session lock is shared too: it waits for no redeem.
        await locks.lock_session_shared(other, "S:2")
        await locks.unlock_session_shared(other, "S:2")
        await conn.execute("SELECT pg_advisory_unlock_all()")
        async with other.transaction():
            await locks.lock_exclusive(other, "S:2")
    finally:
        await other.close()


@pytest.fixture
async def client(through_gateway: Any, app: web.Application, redis: Redis) -> Any:
    await publish_customer(redis, "c-1", mobile="111")
    return await through_gateway(app)


async def _redeem(client: Any, code: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post(REDEEM, json=redeem_body(coupon_in(code, "111")))
    return resp.status, await resp.json()


def _item(body: dict[str, Any]) -> int:
    code: int = body["response"]["coupons"]["coupon"]["item_status"]["code"]
    return code


async def _until_every_connection_is_back(pool: asyncpg.Pool) -> None:
    async def back() -> bool:
        return pool.get_idle_size() == pool.get_size()

    await until(back, "every connection back in the pool", limit_s=WAIT_S)


async def test_pooled_connections_come_back_without_advisory_locks(
    client: Any, app: web.Application, redis: Redis, conn: asyncpg.Connection
) -> None:
    await publish_group(redis, "S:3", ["L1", "L2"])
    status, body = await _redeem(client, "L1")
    assert (status, _item(body)) == (200, 700)
    rid = body["response"]["coupons"]["coupon"]["redemption_id"]
    resp = await client.post(f"/v2/coupon/redemptions/{rid}/reverse")
    assert resp.status == 200
    await redis.flushall()  # cold: the next redeem rebuilds the group under its lock
    await publish_group(redis, "S:3", ["L1", "L2"])
    await publish_customer(redis, "c-1", mobile="111")
    status, body = await _redeem(client, "L2")
    assert (status, _item(body)) == (200, 700)
    assert await conn.fetchval(ADVISORY_LOCKS) == 0
    # Refused by the guard: the redeem leaves its batch, whose session locks go with the
    # pool's reset of the batch's connection. The batch hands that connection back after
    # the response is sent, so the locks are checked once every connection is back.
    await publish_group(redis, "S:3", ["L1", "L2"], coupon={"usage_limit": 1})
    status, body = await _redeem(client, "L2")
    assert (status, _item(body)) == (200, 711)
    await _until_every_connection_is_back(app[PG_POOL])
    assert await conn.fetchval(ADVISORY_LOCKS) == 0
    # A session lock whose unlock never ran goes with the connection's return to the pool.
    async with app[PG_POOL].acquire() as held:
        await locks.lock_session_shared(held, "S:3")
        assert await conn.fetchval(ADVISORY_LOCKS) == 1
    assert await conn.fetchval(ADVISORY_LOCKS) == 0


@pytest.mark.parametrize("idempotency_key", [None, "order-1"])
async def test_a_refused_commit_gives_the_counters_back(
    client: Any,
    redis: Redis,
    conn: asyncpg.Connection,
    settings: Any,
    idempotency_key: str | None,
) -> None:
    """With or without a key, the ledger rows (and the key's completion) are one
    autocommitted statement, and the server refuses its commit."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    await publish_group(redis, "S:4", ["F1"], coupon={"usage_limit": 1})
    # A deferred constraint is checked at COMMIT: the server refuses the commit itself.
    await conn.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN RAISE EXCEPTION 'refused at commit'; END$$;"
        "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON redemptions "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    resp = await client.post(REDEEM, json=redeem_body(coupon_in("F1", "111")), headers=headers)
    assert resp.status >= 500
    assert await ledger_rows(settings.database_url) == []
    assert int(await redis.get(redis_keys.redeemed_coupon("S:4", "F1")) or 0) == 0
    # The key was not completed: it is free for the retry.
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    await conn.execute("DROP TRIGGER refuse_commit ON redemptions")
    retried = await client.post(REDEEM, json=redeem_body(coupon_in("F1", "111")), headers=headers)
    assert (retried.status, _item(await retried.json())) == (200, 700)
    assert await conn.fetchval(ADVISORY_LOCKS) == 0


async def test_a_give_back_never_lands_on_rebuilt_counters(
    client: Any, app: web.Application, redis: Redis
) -> None:
    await publish_group(redis, "S:5", ["E1"], coupon={"usage_limit": 2})
    status, body = await _redeem(client, "E1")  # warms the group; one use in the ledger
    assert (status, _item(body)) == (200, 700)
    counters = app[COUNTERS]
    key = redis_keys.redeemed_coupon("S:5", "E1")
    guarded = await counters.guard(
        "all", "S:5", total_limit=None, per_customer_limit=None, uses=[Use("E1", "c-1", 2)]
    )
    assert guarded.statuses == [700]
    assert await redis.get(key) == b"2"
    # The take never reached the ledger; a rebuild set the counters from it meanwhile.
    await rebuild_group(app[PG_POOL], counters, "S:5", force=True)
    assert await redis.get(key) == b"1"
    await counters.release("S:5", [("E1", "c-1")], epoch=guarded.epoch)
    assert await redis.get(key) == b"1"
    # Without a rebuild in between, the same give-back applies.
    guarded = await counters.guard(
        "all", "S:5", total_limit=None, per_customer_limit=None, uses=[Use("E1", "c-1", 2)]
    )
    assert await redis.get(key) == b"2"
    await counters.release("S:5", [("E1", "c-1")], epoch=guarded.epoch)
    assert await redis.get(key) == b"1"


async def _until_a_lock_waits(conn: asyncpg.Connection) -> None:
    async def waiting() -> bool:
        return bool(await conn.fetchval(WAITING))

    await until(waiting, "an advisory lock request waiting", limit_s=WAIT_S)


async def test_a_rebuild_waiting_on_a_redeem_reads_what_it_wrote(
    client: Any, app: web.Application, redis: Redis, conn: asyncpg.Connection
) -> None:
    """The ledger statement takes over the session locks a rebuild is queued behind, and
    the rebuild reads the ledger only after that statement's commit."""
    await publish_group(redis, "S:6", ["H1"], coupon={"usage_limit": 5})
    status, body = await _redeem(client, "H1")  # warm, one use in the ledger
    assert (status, _item(body)) == (200, 700)
    pool, counters = app[PG_POOL], app[COUNTERS]
    async with pool.acquire() as held:
        keys, [rid] = await ledger.lock_and_reserve(held, ["S:6"], 1)
        rebuild = asyncio.create_task(rebuild_group(pool, counters, "S:6", force=True))
        await _until_a_lock_waits(conn)  # the rebuild, queued behind the shared lock
        row = ledger.NewRedemption(rid, "H1", "S:6", "c-1", Decimal(1), Decimal(1), "", [])
        released = await asyncio.wait_for(ledger.write(held, [row], [], keys), timeout=10)
        assert released
        assert await conn.fetchval("SELECT max(id) FROM redemptions WHERE code = 'H1'") == rid
        await asyncio.wait_for(rebuild, timeout=10)
    assert await redis.get(redis_keys.redeemed_coupon("S:6", "H1")) == b"2"
    assert await conn.fetchval(ADVISORY_LOCKS) == 0
