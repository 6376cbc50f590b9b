"""A process's PostgreSQL and Redis pools make a burst wait for a connection instead of
failing it, for at most ``POOL_TIMEOUT_S``; past that the request is a 503 with Retry-After
(SPEC section 7). Run against a single Redis and a Redis Cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app

BURST = 500
# Far below the per-test timeout: only the bound ends the wait it is given for.
SHORT_WAIT_S = 0.3

App = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


async def _from_redis(request: web.Request) -> web.Response:
    return json_response({"value": await request.app[REDIS].get("k")})


async def _from_postgres(request: web.Request) -> web.Response:
    return json_response({"value": await request.app[PG_POOL].fetchval("SELECT 1")})


@pytest.fixture(params=["redis", "cluster"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    name = "redis_url" if request.param == "redis" else "redis_cluster_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def start(aiohttp_client: Any, service_env: dict[str, Any]) -> App:
    async def start_app(**settings: Any) -> TestClient[web.Request, web.Application]:
        app = build_app(
            ServiceSettings(**{**service_env, **settings}),
            service="test",
            migrations_dir=None,
            verify_identity=False,
        )
        app.router.add_get("/v2/from-redis", _from_redis)
        app.router.add_get("/v2/from-postgres", _from_postgres)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
        return client

    return start_app


async def test_a_burst_beyond_the_redis_pool_waits_for_connections(
    start: App, any_redis_url: str
) -> None:
    client = await start(redis_url=any_redis_url, redis_pool_size=4)
    redis = client.app[REDIS]
    await asyncio.gather(*(redis.incr("burst") for _ in range(BURST)))
    assert int(cast(bytes, await redis.get("burst"))) == BURST


async def test_a_burst_beyond_the_postgres_pool_waits_for_connections(start: App) -> None:
    client = await start(db_pool_max_size=2)
    pool = client.app[PG_POOL]
    values = await asyncio.gather(*(pool.fetchval("SELECT $1::int", i) for i in range(BURST)))
    assert values == list(range(BURST))


async def test_no_redis_connection_within_the_bound_is_a_503_with_retry_after(
    start: App, any_redis_url: str
) -> None:
    client = await start(redis_url=any_redis_url, redis_pool_size=1, pool_timeout_s=SHORT_WAIT_S)
    # The only connection (on a cluster: the only turn) blocks on an empty list.
    holder = asyncio.ensure_future(client.app[REDIS].blpop(["{held}:list"], timeout=10))
    try:
        response = await client.get("/v2/from-redis")
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert "ConnectionError" in (await response.json())["errors"][0]["message"]
    finally:
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)


async def test_no_postgres_connection_within_the_bound_is_a_503_with_retry_after(
    start: App,
) -> None:
    client = await start(db_pool_max_size=1, pool_timeout_s=SHORT_WAIT_S)
    async with client.app[PG_POOL].acquire():  # the only connection, held
        response = await client.get("/v2/from-postgres")
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
    assert (await client.get("/v2/from-postgres")).status == 200
