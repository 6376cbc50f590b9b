"""Faults mid-load: Redis restarted empty, PostgreSQL restarted, a replica SIGKILLed.

Afterwards no limit is exceeded, every acknowledged redemption is in the ledger, and the
counters equal the ledger after one reconcile.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from coupon_dev.processes import Process
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET
from coupon_dev.testing.poll import until
from coupon_dev.testing.provision import Infra
from redemption_service.app import create_app
from redemption_service.settings import Settings
from redis.asyncio import Redis

from .loadrecord import LIMIT, Recorded, check_invariants, fire, publish, republish

REQUESTS = 900


async def test_redis_restarted_empty_mid_load(
    replicas: list[str], http: aiohttp.ClientSession, redis: Redis, infra: Infra, settings: Any
) -> None:
    assert infra.can_restart_redis
    await publish(redis)
    record = Recorded()
    load = asyncio.create_task(fire(http, replicas, REQUESTS, record))
    await until(lambda: record.done >= REQUESTS // 5, "a fifth answered", limit_s=60)
    await asyncio.to_thread(infra.kill_redis)
    try:
        await until(lambda: record.outcomes["http:503"] >= 3, "three 503s", limit_s=60)
    finally:
        _start_in_this_thread(infra.start_redis)
    await until(lambda: record.done >= REQUESTS // 2, "half answered", limit_s=60)
    await republish(redis)  # the owners notice the lost facts and publish them again
    await load
    assert record.outcomes["http:503"] >= 3
    await check_invariants(settings.database_url, settings.redis_url, record)


async def test_postgres_restarted_mid_load(
    aiohttp_server: Any,
    http: aiohttp.ClientSession,
    redis: Redis,
    infra: Infra,
    service_env: dict[str, Any],
) -> None:
    assert infra.postgres is not None
    # Acknowledged means durable: commits wait for the WAL flush even on the test server.
    env = {**service_env, "database_url": service_env["database_url"] + "?synchronous_commit=on"}
    settings = Settings(**env, reconcile_interval_s=0)
    servers = [await aiohttp_server(create_app(settings)) for _ in range(2)]
    targets = [str(s.make_url("")).rstrip("/") for s in servers]
    await publish(redis)
    record = Recorded()
    load = asyncio.create_task(fire(http, targets, REQUESTS, record))
    await until(lambda: record.done >= REQUESTS // 5, "a fifth answered", limit_s=60)
    await asyncio.to_thread(infra.postgres.kill)
    try:
        await until(lambda: record.outcomes["http:503"] >= 3, "three 503s", limit_s=60)
    finally:
        _start_in_this_thread(infra.postgres.start)
    await load
    assert record.outcomes["http:503"] >= 3
    await check_invariants(service_env["database_url"], service_env["redis_url"], record)
    await _close(servers)


async def test_replica_killed_mid_load(
    replicas: list[str],
    http: aiohttp.ClientSession,
    redis: Redis,
    settings: Any,
    tmp_path: Path,
    reserved_port: int,
) -> None:
    await publish(redis)
    port = reserved_port
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "IDENTITY_SECRET": TEST_IDENTITY_SECRET,
        "ENVIRONMENT": "test",
        "PORT": str(port),
        "REUSE_PORT": "true",
        "RECONCILE_INTERVAL_S": "0",
        "ACCESS_LOG": "false",
    }
    process = Process("redemption", "redemption_service", port, env, tmp_path / "replica.log")
    process.start()
    try:
        await asyncio.to_thread(process.wait_ready)
        record = Recorded()
        load = asyncio.create_task(fire(http, [process.url, replicas[0]], REQUESTS, record))
        await until(lambda: record.done >= REQUESTS // 4, "a quarter answered", limit_s=60)
        await asyncio.to_thread(process.kill)
        await load
    finally:
        await asyncio.to_thread(process.kill)
    assert any(k.startswith("error:") for k in record.outcomes)
    await check_invariants(settings.database_url, settings.redis_url, record)
    # After the reconcile no capacity is lost: the survivors fill the limit exactly.
    more = Recorded()
    await fire(http, [replicas[0]], 2 * LIMIT, more)
    await check_invariants(settings.database_url, settings.redis_url, more)
    assert more.outcomes["700"] + len(record.acked) <= LIMIT


def _start_in_this_thread(start: Any) -> None:
    """Embedded servers die with the thread that started them (PR_SET_PDEATHSIG), so they
    are started from the test's own thread, never from a worker thread that will exit."""
    start()


async def _close(servers: list[TestServer]) -> None:
    for server in servers:
        await server.close()
