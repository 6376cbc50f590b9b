"""The embedded Redis Cluster and the client factory that understands cluster URLs."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from coupon_core.lifecycle import cluster_seeds, is_cluster_url, redis_from_url
from coupon_dev.embedded_cluster import CLUSTER_SLOTS, EmbeddedRedisCluster, port_of
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError


@pytest.mark.parametrize(
    ("url", "single", "seeds"),
    [
        (
            "redis+cluster://10.0.0.1:7000",
            "redis://10.0.0.1:7000",
            [("10.0.0.1", 7000)],
        ),
        (
            "redis+cluster://user:pw@a:7000,b:7001,c/0?socket_timeout=3",
            "redis://user:pw@a:7000/0?socket_timeout=3",
            [("a", 7000), ("b", 7001), ("c", 6379)],
        ),
        (
            "redis+cluster://[::1]:7000,redis-0.redis:6379",
            "redis://[::1]:7000",
            [("::1", 7000), ("redis-0.redis", 6379)],
        ),
        (
            "rediss+cluster://:pw@cfg.example:6380,b:6380/0",
            "rediss://:pw@cfg.example:6380/0",
            [("cfg.example", 6380), ("b", 6380)],
        ),
    ],
)
def test_cluster_urls_name_every_seed(url: str, single: str, seeds: list[tuple[str, int]]) -> None:
    assert is_cluster_url(url)
    assert cluster_seeds(url) == (single, seeds)


@pytest.mark.parametrize(
    "url", ["redis://a:1/0", "rediss://a:1/0", "redis+cluster://", "rediss+cluster:///0"]
)
def test_bad_cluster_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        cluster_seeds(url)


async def test_the_factory_picks_the_client_by_scheme(redis_cluster_url: str) -> None:
    plain = redis_from_url("redis://127.0.0.1:1/0")
    assert isinstance(plain, Redis)
    await plain.aclose()
    cluster = redis_from_url(redis_cluster_url)
    try:
        assert isinstance(cluster, RedisCluster)
        assert await cluster.ping()
        nodes = {node.port for node in cluster.get_primaries()}
        assert len(nodes) == 3
    finally:
        await cluster.aclose()


def test_slots_are_split_without_gaps_or_overlaps(redis_cluster: EmbeddedRedisCluster) -> None:
    ranges = redis_cluster.slot_ranges()
    assert ranges[0][0] == 0
    assert ranges[-1][1] == CLUSTER_SLOTS - 1
    for (_, last), (first, _) in itertools.pairwise(ranges):
        assert first == last + 1
    assert redis_cluster.healthy()


async def test_flushing_empties_every_master(
    redis_cluster: EmbeddedRedisCluster, redis_cluster_url: str
) -> None:
    client = redis_from_url(redis_cluster_url)
    assert isinstance(client, RedisCluster)
    try:
        keys = [f"{{k{i}}}:x" for i in range(60)]
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(key, "1")
            await pipe.execute()
        owners = {port_of(client, key) for key in keys}
        assert owners == set(redis_cluster.ports)
        await client.flushall()
        for key in keys:
            assert await client.get(key) is None
    finally:
        await client.aclose()


async def test_a_killed_node_comes_back_with_its_slots(
    redis_cluster: EmbeddedRedisCluster, redis_cluster_url: str
) -> None:
    key = "{C:KILLED}:owner"
    client = redis_from_url(redis_cluster_url)
    assert isinstance(client, RedisCluster)
    try:
        await client.initialize()
        port = port_of(client, key)
        index = redis_cluster.ports.index(port)
        await client.set(key, "S:1")
        redis_cluster.kill_node(index)
        assert not redis_cluster.healthy()
        with pytest.raises((RedisConnectionError, RedisError)):
            await client.get(key)
        redis_cluster.start_node(index)
        assert redis_cluster.healthy()
        # Persistence is off: the node is back with its slots, not with its data.
        assert await client.get(key) is None
        await client.set(key, "S:2")
        assert await client.get(key) == b"S:2"
    finally:
        await client.aclose()


async def test_a_dead_cluster_is_a_connection_error_whatever_the_call(
    redis_cluster: EmbeddedRedisCluster, redis_cluster_url: str
) -> None:
    """Single commands, pipelines and many pipelines in flight while every node dies: each
    fails as a redis ConnectionError, never as RedisClusterException or an AttributeError
    from a connection torn down under it."""
    client = redis_from_url(redis_cluster_url, socket_connect_timeout=1)
    keys = [f"{{C:DEAD{n}}}:owner" for n in range(30)]

    async def pipelined() -> None:
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            await pipe.execute()

    try:
        for key in keys:
            await client.set(key, "S:1")
        flood = [asyncio.create_task(pipelined()) for _ in range(40)]
        redis_cluster.kill()
        calls = [
            *flood,
            asyncio.create_task(pipelined()),
            asyncio.ensure_future(client.get(keys[0])),
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert failures, "the calls made after the kill cannot succeed"
        assert all(isinstance(f, RedisConnectionError) for f in failures), failures
    finally:
        await client.aclose()
        redis_cluster.start()


async def test_the_redis_client_fixture_follows_the_mode(redis_client: Any, redis_url: str) -> None:
    expected = RedisCluster if redis_url.startswith("redis+cluster://") else Redis
    assert isinstance(redis_client, expected)
    await redis_client.set("{C:FIXTURE}:owner", "S:1")
    assert await redis_client.get("{C:FIXTURE}:owner") == b"S:1"
