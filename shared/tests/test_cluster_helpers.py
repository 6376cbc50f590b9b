"""The shared Redis helpers on a three-master Redis Cluster: scripts with hash-tagged keys,
the code registry, facts, and the outbox relay feeding a stream consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from coupon_core import code_registry, events, facts, redis_keys
from coupon_core.autopipeline import AutoPipeline
from coupon_core.consumer import consume, each
from coupon_core.db import Connection
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.lifecycle import redis_from_url
from coupon_core.scripts import load_scripts
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.embedded_cluster import EmbeddedRedisCluster, port_of
from coupon_dev.testing.poll import until
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException

# Takes one use of a group-wide limit and of a per-customer limit in one step, as the
# services' scripts do: both keys carry the group's hash tag.
TAKE_LUA = """
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
local mine = tonumber(redis.call('GET', KEYS[2]) or '0')
if total >= tonumber(ARGV[1]) then return 1 end
if mine >= tonumber(ARGV[2]) then return 2 end
redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[2])
return 0
"""


@pytest.fixture
async def cluster(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = redis_from_url(redis_cluster_url)
    assert isinstance(client, RedisCluster)
    await client.initialize()
    yield client
    await client.aclose()


def _nodes_of(client: RedisCluster, keys: list[str]) -> set[int]:
    return {port_of(client, key) for key in keys}


async def test_scripts_take_hash_tagged_keys_on_every_node(
    cluster: RedisCluster, redis_cluster: EmbeddedRedisCluster, tmp_path: Path
) -> None:
    (tmp_path / "take.lua").write_text(TAKE_LUA)
    take = load_scripts(cluster, tmp_path)["take"]  # type: ignore[arg-type]
    groups = [redis_keys.group_ref(redis_keys.SERIES, n) for n in range(40)]
    totals = [redis_keys.redeemed_total(g) for g in groups]
    assert _nodes_of(cluster, totals) == set(redis_cluster.ports)
    for group in groups:
        keys = [redis_keys.redeemed_total(group), redis_keys.redeemed_by_customer(group, "c1")]
        assert await take(keys=keys, args=[2, 1]) == 0
        assert await take(keys=keys, args=[2, 1]) == 2
        other = [redis_keys.redeemed_total(group), redis_keys.redeemed_by_customer(group, "c2")]
        assert await take(keys=other, args=[2, 1]) == 0
        assert await take(keys=other, args=[2, 5]) == 1
    # After SCRIPT FLUSH on every master the client loads the script again by itself.
    await cluster.script_flush()
    group = groups[0]
    keys = [redis_keys.redeemed_total(group), redis_keys.redeemed_by_customer(group, "c3")]
    assert await take(keys=keys, args=[3, 1]) == 0
    assert await cluster.get(redis_keys.redeemed_total(group)) == b"3"


async def test_keys_of_two_groups_in_one_script_are_refused(
    cluster: RedisCluster, tmp_path: Path
) -> None:
    # Why every key of a script carries one hash tag: a cluster cannot run this.
    (tmp_path / "take.lua").write_text(TAKE_LUA)
    take = load_scripts(cluster, tmp_path)["take"]  # type: ignore[arg-type]
    a, b = "S:1", "S:2"
    keys = [redis_keys.redeemed_total(a), redis_keys.redeemed_total(b)]
    assert cluster.keyslot(keys[0]) != cluster.keyslot(keys[1])
    with pytest.raises(RedisClusterException):
        await take(keys=keys, args=[1, 1])


async def test_code_registry_spans_slots(
    cluster: RedisCluster, redis_cluster: EmbeddedRedisCluster
) -> None:
    redis: Any = cluster
    codes = [f"CODE{n:04d}" for n in range(300)]
    assert _nodes_of(cluster, [redis_keys.code_owner(c) for c in codes]) == set(redis_cluster.ports)
    assert await code_registry.reserve_many(redis, codes, "P:SPRING") == [True] * len(codes)
    assert await code_registry.reserve_many(redis, codes[:5], "S:9") == [False] * 5
    assert await code_registry.reserve_many(redis, codes[:1], "S:9") == [False]  # one, no pipeline
    assert await code_registry.reserve_many(redis, ["SOLO"], "S:9") == [True]
    assert await code_registry.owner_of(redis, "SOLO") == "S:9"
    await code_registry.release(redis, ["SOLO"], "S:9")
    assert await code_registry.reserve(redis, codes[0], "P:SPRING")
    assert not await code_registry.reserve(redis, codes[0], "S:9")
    assert await code_registry.reserve(redis, "LONE", "S:9")

    # Releasing on behalf of a group that does not own the codes changes nothing.
    await code_registry.release(redis, [*codes, "LONE"], "S:7")
    assert await code_registry.owner_of(redis, codes[-1]) == "P:SPRING"
    assert await code_registry.owner_of(redis, "LONE") == "S:9"

    await code_registry.release(redis, [*codes, "LONE"], "P:SPRING")
    for code in codes:
        assert await code_registry.owner_of(redis, code) is None
    assert await code_registry.owner_of(redis, "LONE") == "S:9"
    await code_registry.release(redis, [], "P:SPRING")


async def test_facts_are_published_and_read_in_one_slot(cluster: RedisCluster) -> None:
    redis: Any = cluster
    group = facts.GroupFacts(
        group="S:12",
        total_limit=100,
        discount=facts.Discount(type="PERC", value=10, upto=50),
    )
    coupons = [
        facts.CouponFacts(code=f"SER{n}", group="S:12", coupon_id=n, usage_limit=1)
        for n in range(20)
    ]
    await facts.publish(redis, group, coupons[:10])
    await facts.publish_coupons(redis, coupons[10:])
    for coupon in coupons:
        assert await facts.read(redis, "S:12", coupon.code) == (group, coupon)
    await facts.retract_coupon(redis, "S:12", "SER3")
    assert await facts.read(redis, "S:12", "SER3") == (group, None)
    assert await facts.read(redis, "P:NONE", "X") == (None, None)


async def test_get_many_reads_keys_of_any_slots_in_order(
    cluster: RedisCluster, redis_client: Any
) -> None:
    spread = [f"{{C:K{n}}}:owner" for n in range(12)]
    assert len(_nodes_of(cluster, spread)) == 3
    one_slot = ["{S:1}:group", "{S:1}:coupon:A", "{S:1}:coupon:B"]
    for client in (cluster, redis_client):
        for n, key in enumerate(spread[::2] + one_slot[:2]):
            await client.set(key, str(n))
        pipe = AutoPipeline(cast(Redis, client))
        assert await pipe.get_many(spread + one_slot) == [
            *(str(n // 2).encode() if n % 2 == 0 else None for n in range(12)),
            b"6",
            b"7",
            None,
        ]
        assert await pipe.get_many([]) == []


async def test_outbox_relay_and_consumer_run_on_the_cluster(
    outbox_app: Any, redis_cluster_url: str
) -> None:
    client = await outbox_app(redis_cluster_url)
    app = client.app

    ready = await client.get("/readyz")
    assert ready.status == 200
    body = await ready.json()
    assert (body["checks"], body["stores"]) == (
        {"migrations": "ok"},
        {"postgres": "ok", "redis": "ok"},
    )

    pool, redis = app[PG_POOL], app[REDIS]
    assert isinstance(redis, RedisCluster)
    seen: list[events.Event] = []

    async def handler(conn: Connection, event: events.Event) -> None:
        seen.append(event)

    async with pool.acquire() as conn, conn.transaction():
        for n in range(25):
            await events.enqueue(
                conn,
                service="promotion",
                event_type="coupon.created",
                payload={"code": f"C{n}", "group": "P:SPRING", "couponId": n},
            )

    relay = asyncio.create_task(events.relay_outbox(pool, cast(Redis, redis), service="promotion"))
    consumer = asyncio.create_task(
        consume(
            pool,
            cast(Redis, redis),
            stream_service="promotion",
            consumer="redemption",
            handler=each(handler),
        )
    )
    try:

        async def all_seen() -> bool:
            return len(seen) >= 25

        await until(all_seen, "every event consumed", limit_s=30.0)

        async def all_acked() -> bool:
            pending: Any = await redis.xpending(redis_keys.event_stream("promotion"), "redemption")
            return int(pending["pending"]) == 0

        await until(all_acked, "every event acknowledged", limit_s=30.0)

        async def outbox_marked() -> bool:
            async with pool.acquire() as conn:
                unpublished = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
            return bool(unpublished == 0)

        # The relay marks its batch after the XADDs, so a fast consumer may finish first.
        await until(outbox_marked, "every outbox row marked published")
    finally:
        for task in (relay, consumer):
            task.cancel()
        await asyncio.gather(relay, consumer, return_exceptions=True)

    assert sorted(e.payload["couponId"] for e in seen) == list(range(25))
    assert len({e.id for e in seen}) == 25
    assert {e.type for e in seen} == {"coupon.created"}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM processed_events") == 25
    assert await redis.exists(redis_keys.relay_alive("promotion"))


async def test_cluster_app_shuts_down_cleanly(database_url: str, redis_cluster_url: str) -> None:
    settings = ServiceSettings(
        database_url=database_url,
        redis_url=redis_cluster_url,
        identity_secret="test-identity-secret-cluster",
        environment="test",
    )
    app: web.Application = build_app(settings, service="promotion-service", migrations_dir=None)
    runner = web.AppRunner(app)
    await runner.setup()
    assert await app[REDIS].ping()
    await runner.cleanup()
