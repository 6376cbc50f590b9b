"""Fixtures of the webhook-service tests: the real app, behind the real gateway; more
replicas of it on the same database; real HTTP receivers on loopback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from webhook_service.app import create_app
from webhook_service.settings import Settings


@pytest.fixture
def settings(service_env: dict[str, Any]) -> Settings:
    """The service's settings for a test: deliveries to the tests' loopback receivers are
    allowed (plain http on loopback, and the loopback networks allowlisted)."""
    return Settings(
        **service_env,
        webhook_allow_http_loopback=True,
        webhook_allowed_networks="127.0.0.0/8,::1/128",
        webhook_poll_s=0.05,
        webhook_retry_base_s=0.05,
        webhook_retry_max_delay_s=0.2,
    )


@pytest.fixture
async def api(settings: Settings, through_gateway: Any) -> TestClient[Any, Any]:
    """A client of the gateway in front of one webhook-service."""
    client: TestClient[Any, Any] = await through_gateway(create_app(settings))
    return client


@pytest.fixture
def start_webhook(settings: Settings, aiohttp_client: Any) -> Callable[..., Awaitable[Any]]:
    """``await start_webhook(**settings)``: one more webhook-service (fan-out, deliverer) on
    this test's database and Redis, ``settings`` overriding the test's; its client."""

    async def start(**overrides: Any) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(settings.model_copy(update=overrides))
        )
        return client

    return start


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # names lower-cased
    body: bytes


Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def accept(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


class Receiver:
    """A customer's endpoint: a real HTTP server on 127.0.0.1 that records each request and
    answers it with ``answer`` (200 unless the test says otherwise). Verification is the
    tests' own, with the independent ``standardwebhooks`` package."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[Received] = []
        self.answer: Answer = accept
        self.max_overlap = 0  # the most requests of one webhook-id answered at once
        self._in_flight: Counter[str] = Counter()

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        event_id = request.headers.get("webhook-id", "")
        self._in_flight[event_id] += 1
        self.max_overlap = max(self.max_overlap, self._in_flight[event_id])
        try:
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.received.append(Received(headers, await request.read()))
            return await self.answer(request)
        finally:
            self._in_flight[event_id] -= 1


@pytest.fixture
def receivers(aiohttp_server: Any) -> Callable[[], Awaitable[Receiver]]:
    """``await receivers()``: one more receiver, listening at its ``url``."""

    async def start() -> Receiver:
        receiver = Receiver()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", receiver.handle)
        server = await aiohttp_server(app)
        receiver.url = str(server.make_url("/hooks"))
        return receiver

    return start


@pytest.fixture
async def receiver(receivers: Callable[[], Awaitable[Receiver]]) -> Receiver:
    return await receivers()
