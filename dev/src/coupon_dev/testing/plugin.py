"""pytest plugin: real PostgreSQL and Redis for every test, a clean state for each test.

Enabled for the whole workspace by ``-p coupon_dev.testing.plugin`` in the pytest options.
With ``COUPON_TEST_REDIS_CLUSTER=1`` the ``redis_url`` of every test is a ``redis+cluster://``
URL of a three-master Redis Cluster (``make test-cluster``); build clients with
:func:`coupon_core.lifecycle.redis_from_url`, which understands both kinds of URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from aiohttp.client_middlewares import ClientMiddlewareType
from coupon_core.identity import IDENTITY_HEADER, Principal, sign_identity
from coupon_core.lifecycle import RedisClient, redis_from_url
from coupon_dev.embedded_cluster import EmbeddedRedisCluster
from coupon_dev.ports import reserve_port
from coupon_dev.testing.provision import Infra, provision
from yarl import URL

TEST_IDENTITY_SECRET = "test-identity-secret-not-for-production"  # noqa: S105


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provision(os.environ) as found:
        yield found


def database_url_for(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def _finished_databases(infra: Infra) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    if names:
        asyncio.run(_drop(infra.postgres_url, names))


async def _drop(admin_url: str, names: list[str]) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        while names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{names.pop()}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_database(admin_url: str, prefix: str) -> str:
    """A new, empty database named ``prefix`` and a random suffix; its name."""
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


@pytest.fixture
async def database_url(infra: Infra, _finished_databases: list[str]) -> AsyncIterator[str]:
    """A new, empty database for this test.

    It is dropped when the next test starts, not at this test's teardown: an application
    fixture set up before this one is torn down after it, and its pool must not see its
    database vanish underneath it.
    """
    await _drop(infra.postgres_url, _finished_databases)
    name = await create_database(infra.postgres_url, "test_")
    yield database_url_for(infra.postgres_url, name)
    _finished_databases.append(name)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to this test's database, for what a test reads or sets up directly."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def outbox_payloads(conn: asyncpg.Connection, event_type: str) -> list[dict[str, Any]]:
    """The payloads of the ``event_type`` events in a service's outbox, oldest first."""
    rows = await conn.fetch(
        "SELECT payload::text AS p FROM outbox WHERE event_type = $1 ORDER BY id", event_type
    )
    return [orjson.loads(row["p"]) for row in rows]


async def _flush(url: str) -> None:
    """Empty every database of the Redis (every master of a cluster) behind ``url``."""
    client = redis_from_url(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


def _whole(cluster: EmbeddedRedisCluster) -> None:
    """A test may have stopped or killed nodes: bring them back before the next one."""
    if not cluster.healthy():
        cluster.start()


@pytest.fixture
async def redis_url(infra: Infra) -> str:
    """The test Redis, emptied before this test (a cluster in cluster mode)."""
    if infra.redis_cluster is not None:
        _whole(infra.redis_cluster)
    await _flush(infra.redis_url)
    return infra.redis_url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[RedisClient]:
    """A client of this test's (emptied) Redis, closed after the test."""
    client = redis_from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def redis_cluster(infra: Infra) -> Iterator[EmbeddedRedisCluster]:
    """A three-master Redis Cluster for tests that need one whatever the mode: the session's
    own in cluster mode, else one started for this session on first use."""
    if infra.redis_cluster is not None:
        yield infra.redis_cluster
        return
    with tempfile.TemporaryDirectory(prefix="coupon-cluster-") as tmp:
        cluster = EmbeddedRedisCluster(Path(tmp) / "cluster")
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture
async def redis_cluster_url(redis_cluster: EmbeddedRedisCluster) -> str:
    """The cluster's ``redis+cluster://`` URL, every master emptied before this test."""
    _whole(redis_cluster)
    await _flush(redis_cluster.url())
    return redis_cluster.url()


@pytest.fixture
def reserved_port() -> Iterator[int]:
    """A loopback port nobody else can bind while the test runs (ports.reserve_port):
    connections to it are refused, yet a process started with ``REUSE_PORT=true`` can listen
    on it. A dead upstream that stays dead, or a port no one can take from the process meant
    for it."""
    with contextlib.closing(reserve_port()) as reservation:
        yield reservation.getsockname()[1]


def settings_env(database_url: str, redis_url: str) -> dict[str, Any]:
    """Keyword arguments for any service's Settings in a test, pointing at these stores."""
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "identity_secret": TEST_IDENTITY_SECRET,
        "environment": "test",
        "access_log": False,
    }


@pytest.fixture
def service_env(database_url: str, redis_url: str) -> dict[str, Any]:
    """Keyword arguments for any service's Settings, pointing at this test's stores."""
    return settings_env(database_url, redis_url)


def signed_headers(
    method: str,
    target: str,
    principal: Principal,
    *,
    body: bytes = b"",
    secret: str = TEST_IDENTITY_SECRET,
) -> dict[str, str]:
    """The identity header the gateway would send for ``method target`` (path and query, as
    a client sends them) with exactly ``body``: good for one request, once."""
    url = URL(target)
    return {
        IDENTITY_HEADER: sign_identity(
            principal,
            method=method,
            path=url.raw_path,
            query=url.raw_query_string,
            body=body,
            secret=secret.encode(),
        )
    }


def signed_as(principal: Principal, secret: str = TEST_IDENTITY_SECRET) -> ClientMiddlewareType:
    """An aiohttp client middleware that signs every request it sends as the gateway would
    (its method, path, query and body bytes, a fresh nonce each time): pass it as
    ``middlewares=(signed_as(principal),)`` to a session or to one request."""

    async def sign(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        body = request.body
        data = body if isinstance(body, bytes) else await body.as_bytes()
        request.headers[IDENTITY_HEADER] = sign_identity(
            principal,
            method=request.method,
            path=request.url.raw_path,
            query=request.url.raw_query_string,
            body=data,
            secret=secret.encode(),
        )
        return await handler(request)

    return sign
