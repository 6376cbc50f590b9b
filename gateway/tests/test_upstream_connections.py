"""The gateway's connections to its upstreams: each one is renewed after
``UPSTREAM_CONNECTION_MAX_REQUESTS`` requests or ``UPSTREAM_CONNECTION_MAX_AGE_S`` seconds,
so a replica added behind one Service URL gets its share; at most ``UPSTREAM_POOL_SIZE``
requests per service are in flight, the next waits up to ``POOL_TIMEOUT_S`` and is then a
503; a replica that does not accept a connection in time is skipped like one that refuses."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from coupon_dev.gateway_fixtures import ADMIN, TEST_ADMIN_TOKEN
from coupon_dev.ports import reserve_port
from coupon_dev.testing.poll import until
from gateway.app import create_app
from gateway.settings import Settings

PATH = "/v2/coupon/series/whoami"
# Load in the scale-out test: bounded in requests and in time.
WORKERS = 8
MAX_REQUESTS = 20_000
# Within this long after the second replica starts, it serves at least a third of the
# requests of a window of WINDOW consecutive answers.
SHARE_WITHIN_S = 15.0
WINDOW = 300


RELEASE = web.AppKey("release", asyncio.Event)
ENTERED = web.AppKey("entered", asyncio.Event)


def _replica_app(name: str) -> web.Application:
    """A stand-in service replica that says who it is and which connection it was asked on."""

    async def whoami(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return web.json_response({"replica": name, "peer": list(peer or ())})

    async def slow(request: web.Request) -> web.Response:
        request.app[ENTERED].set()
        await request.app[RELEASE].wait()
        return web.json_response({"replica": name})

    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app[ENTERED] = asyncio.Event()
    app.router.add_get(PATH, whoami)
    app.router.add_get("/v2/coupon/series/slow", slow)
    return app


@contextlib.asynccontextmanager
async def _serving(app: web.Application, port: int) -> AsyncIterator[web.AppRunner]:
    """``app`` listening on ``port`` with SO_REUSEPORT: several replicas on one port are one
    address whose new connections the kernel spreads, as a ClusterIP Service does."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
        yield runner
    finally:
        app[RELEASE].set()
        await runner.cleanup()


@pytest.fixture
def service_port() -> Iterator[int]:
    with contextlib.closing(reserve_port()) as reservation:
        yield reservation.getsockname()[1]


def _settings(service_env: dict[str, Any], upstreams: str, **extra: Any) -> Settings:
    return Settings(
        **{
            **service_env,
            "promotion_upstreams": upstreams,
            "issuance_upstreams": upstreams,
            "redemption_upstreams": upstreams,
            "webhook_upstreams": upstreams,
            "bootstrap_admin_token": TEST_ADMIN_TOKEN,
            "rate_limit_per_minute": 10_000_000,
            **extra,
        }
    )


async def test_a_connection_serves_at_most_max_requests(
    aiohttp_client: Any, service_env: dict[str, Any], service_port: int
) -> None:
    settings = _settings(
        service_env, f"http://127.0.0.1:{service_port}", upstream_connection_max_requests=3
    )
    gateway = await aiohttp_client(create_app(settings), headers=ADMIN)
    async with _serving(_replica_app("only"), service_port):
        peers = []
        for _ in range(9):
            response = await gateway.get(PATH)
            assert response.status == 200
            peers.append(tuple((await response.json())["peer"]))
    # Nine requests one after the other: three connections, three requests each, in turn.
    assert len(set(peers)) == 3
    assert [peers.count(peer) for peer in dict.fromkeys(peers)] == [3, 3, 3]


async def test_a_replica_started_mid_load_gets_its_share(
    aiohttp_client: Any, service_env: dict[str, Any], service_port: int
) -> None:
    settings = _settings(
        service_env, f"http://127.0.0.1:{service_port}", upstream_connection_max_age_s=1.0
    )
    gateway = await aiohttp_client(create_app(settings), headers=ADMIN)
    served: list[str] = []
    stop = asyncio.Event()
    deadline = time.monotonic() + 60.0

    async def worker() -> None:
        while not stop.is_set() and len(served) < MAX_REQUESTS and time.monotonic() < deadline:
            response = await gateway.get(PATH)
            assert response.status == 200, await response.text()
            served.append((await response.json())["replica"])

    async with _serving(_replica_app("first"), service_port):
        workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
        try:

            async def warmed_up() -> bool:
                return len(served) >= 200

            await until(warmed_up, "200 requests served by the first replica")
            async with _serving(_replica_app("second"), service_port):
                started = len(served)

                async def second_has_its_share() -> bool:
                    for task in workers:
                        if task.done() and task.exception() is not None:
                            raise AssertionError("a request failed") from task.exception()
                    window = served[started:][-WINDOW:]
                    return len(window) == WINDOW and window.count("second") * 3 >= WINDOW

                await until(
                    second_has_its_share,
                    f"a third of {WINDOW} answers in a row from the second replica",
                    limit_s=SHARE_WITHIN_S,
                )
                stop.set()
                await asyncio.gather(*workers)
        finally:
            stop.set()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


async def test_a_request_waits_for_a_pooled_connection_then_gets_a_503(
    aiohttp_client: Any, service_env: dict[str, Any], service_port: int
) -> None:
    settings = _settings(
        service_env,
        f"http://127.0.0.1:{service_port}",
        upstream_pool_size=1,
        pool_timeout_s=0.3,
        upstream_timeout_s=30,
    )
    gateway = await aiohttp_client(create_app(settings), headers=ADMIN)
    app = _replica_app("only")
    async with _serving(app, service_port):
        holding = asyncio.create_task(gateway.get("/v2/coupon/series/slow"))

        await asyncio.wait_for(app[ENTERED].wait(), 10)
        waited = await gateway.get(PATH)
        assert waited.status == 503
        assert waited.headers["Retry-After"] == "1"
        body = await waited.json()
        assert body["errors"][0]["code"] == 503  # Capillary v2 envelope
        assert "issuance" in body["errors"][0]["message"]
        app[RELEASE].set()
        assert (await holding).status == 200
        assert (await gateway.get(PATH)).status == 200


async def test_a_connect_timeout_goes_on_to_the_next_replica(
    aiohttp_client: Any, service_env: dict[str, Any], service_port: int
) -> None:
    """A replica whose accept queue is full drops the connection attempt: nothing was sent,
    so the next replica is tried, as for a refused connection."""
    with contextlib.ExitStack() as stack:
        silent = stack.enter_context(socket.create_server(("127.0.0.1", 0), backlog=0))
        address = silent.getsockname()
        # Fill the accept queue until a connection attempt is dropped.
        while True:
            probe = socket.socket()
            probe.settimeout(0.3)
            try:
                probe.connect(address)
            except TimeoutError:
                probe.close()
                break
            stack.enter_context(probe)
        upstreams = f"http://127.0.0.1:{address[1]},http://127.0.0.1:{service_port}"
        settings = _settings(service_env, upstreams, upstream_connect_timeout_s=0.3)
        gateway = await aiohttp_client(create_app(settings), headers=ADMIN)
        async with _serving(_replica_app("alive"), service_port):
            for _ in range(4):
                response = await gateway.get(PATH)
                assert response.status == 200, await response.text()
                assert (await response.json())["replica"] == "alive"
