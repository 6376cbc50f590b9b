"""Redis down: every process stays ready (so no Service loses all its pods at once), each
request that needs Redis gets a prompt 503 in its family's envelope, ``/api/v1/status`` and
``store_up`` show which store is down, and everything heals once Redis is back."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core.identity import Principal
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from coupon_dev.embedded import EmbeddedRedis
from coupon_dev.gateway_fixtures import ADMIN, TEST_ADMIN_TOKEN
from coupon_dev.testing.plugin import signed_as
from coupon_dev.testing.poll import until
from gateway.app import create_app
from gateway.settings import Settings

# Long enough that a request waiting for a pooled connection would show: a request that
# needs a store which is down must not wait for it.
POOL_TIMEOUT_S = 30.0
PATH = "/v2/coupon/series/ping"
SIGNED = (signed_as(Principal("api_token", "1", "test")),)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, to kill and start again without touching the session's."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def test_a_redis_outage_is_answered_per_request_and_heals(
    aiohttp_client: Any, aiohttp_server: Any, service_env: dict[str, Any], own_redis: EmbeddedRedis
) -> None:
    env = {**service_env, "redis_url": own_redis.url(), "pool_timeout_s": POOL_TIMEOUT_S}
    service = build_app(ServiceSettings(**env), service="replica", migrations_dir=None)
    service.router.add_get(PATH, _ping)
    replica = await aiohttp_client(service)
    url = str(replica.make_url("")).rstrip("/")
    settings = Settings(
        **env,
        promotion_upstreams=url,
        issuance_upstreams=url,
        redemption_upstreams=url,
        webhook_upstreams=url,
        bootstrap_admin_token=TEST_ADMIN_TOKEN,
    )
    gateway = await aiohttp_client(create_app(settings), headers=ADMIN)
    assert (await gateway.get(PATH)).status == 200

    own_redis.kill()

    for client in (gateway, replica):
        ready = await client.get("/readyz")
        assert ready.status == 200, await ready.text()
        body = await ready.json()
        assert body["status"] == "ready"
        assert body["stores"]["postgres"] == "ok"
        assert body["stores"]["redis"].startswith("error")
    # The gateway's rate limit and the service's replay guard both need Redis.
    for call in (gateway.get(PATH), replica.get(PATH, middlewares=SIGNED)):
        response, took = await _timed(call)
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["errors"][0]["code"] == 503  # Capillary v2 envelope
        assert took < POOL_TIMEOUT_S / 2, f"a 503 for a store that is down took {took:.1f}s"
    status = await gateway.get("/api/v1/status")
    assert status.status == 200, await status.text()
    report = await status.json()
    assert report["status"] == "degraded"
    assert [p["ready"] for p in report["processes"]] == [True] * 5  # gateway + 4 services
    for process in report["processes"]:
        assert process["stores"]["postgres"] == "ok"
        assert process["stores"]["redis"].startswith("error"), process
    metrics = await (await gateway.get("/metrics")).text()
    assert 'store_up{store="redis"} 0.0' in metrics
    assert 'store_up{store="postgres"} 1.0' in metrics

    own_redis.start()

    async def healed() -> bool:
        if (await gateway.get(PATH)).status != 200:
            return False
        if (await replica.get(PATH, middlewares=SIGNED)).status != 200:
            return False
        report = await (await gateway.get("/api/v1/status")).json()
        return bool(report["status"] == "ready")

    await until(healed, "every request served and the status ready again", limit_s=30)
    metrics = await (await gateway.get("/metrics")).text()
    assert 'store_up{store="redis"} 1.0' in metrics


async def test_a_redis_that_stops_answering_is_a_503_after_its_socket_timeout(
    aiohttp_client: Any, service_env: dict[str, Any], own_redis: EmbeddedRedis
) -> None:
    """A Redis that holds its connections open but answers nothing (a stopped process, a
    network path dropping packets) fails a request after ``REDIS_SOCKET_TIMEOUT_S``."""
    socket_timeout_s = 0.5
    env = {
        **service_env,
        "redis_url": own_redis.url(),
        "pool_timeout_s": POOL_TIMEOUT_S,
        "redis_socket_timeout_s": socket_timeout_s,
    }
    service = build_app(ServiceSettings(**env), service="replica", migrations_dir=None)
    service.router.add_get(PATH, _ping)
    replica: TestClient[web.Request, web.Application] = await aiohttp_client(service)
    assert (await replica.get(PATH, middlewares=SIGNED)).status == 200
    assert own_redis.proc is not None
    own_redis.proc.send_signal(signal.SIGSTOP)
    try:
        # Five times the setting: redis-py's own default (5 s) would not answer within it.
        bound = aiohttp.ClientTimeout(total=5 * socket_timeout_s)
        response = await replica.get(PATH, middlewares=SIGNED, timeout=bound)
        assert response.status == 503
        assert (await response.json())["errors"][0]["code"] == 503
        ready = await replica.get("/readyz", timeout=bound)
        assert ready.status == 200
        assert (await ready.json())["stores"]["redis"] == "error: TimeoutError"
    finally:
        own_redis.proc.send_signal(signal.SIGCONT)

    async def served() -> bool:
        return (await replica.get(PATH, middlewares=SIGNED)).status == 200

    await until(served, "a request served once Redis answers again", limit_s=30)
