"""Cluster mode of the test provisioning (``COUPON_TEST_REDIS_CLUSTER=1``)."""

from __future__ import annotations

import asyncpg
from coupon_core.lifecycle import redis_from_url
from coupon_dev.testing.provision import Provider, cluster_mode, provision
from redis.asyncio.cluster import RedisCluster


def test_cluster_mode_is_opt_in() -> None:
    assert not cluster_mode({})
    assert not cluster_mode({"COUPON_TEST_REDIS_CLUSTER": "0"})
    assert cluster_mode({"COUPON_TEST_REDIS_CLUSTER": "1"})


def test_environment_urls_win_over_cluster_mode() -> None:
    env = {
        "TEST_DATABASE_URL": "postgresql://x/y",
        "TEST_REDIS_URL": "redis+cluster://x:7000",
        "COUPON_TEST_REDIS_CLUSTER": "1",
    }
    with provision(env, lambda: False) as infra:
        assert infra.provider is Provider.ENV
        assert infra.redis_url == "redis+cluster://x:7000"
        assert infra.redis_cluster is None


async def test_embedded_cluster_replaces_the_single_redis() -> None:
    with provision({"COUPON_TEST_REDIS_CLUSTER": "1"}, lambda: False) as infra:
        assert infra.provider is Provider.EMBEDDED
        assert infra.redis is None
        assert infra.redis_cluster is not None
        assert infra.redis_url == infra.redis_cluster.url()
        assert infra.redis_url.startswith("redis+cluster://")
        conn = await asyncpg.connect(infra.postgres_url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        client = redis_from_url(infra.redis_url)
        try:
            assert isinstance(client, RedisCluster)
            assert await client.ping()
        finally:
            await client.aclose()
        cluster = infra.redis_cluster
    assert not cluster.running
