"""pytest plugin: run any service behind a real in-process gateway.

``through_gateway(app)`` serves ``app`` on a test server, starts a gateway (with its own
database) whose upstreams all point at it, and returns a client of the gateway that sends
the bootstrap admin token by default. ``gateways(**settings)`` starts gateway replicas in
front of an echo upstream, for the gateway's and the CLI's own tests. ``register_and_login``
gives a user token (user endpoints such as ``/api/v1/coupon/activate`` take nothing else);
``create_token`` an API token with a given whitelist; ``raw_request`` sends a request line
and body exactly as given (targets no client library would send). Enabled by
``-p coupon_dev.gateway_fixtures``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from coupon_core.identity import IDENTITY_HEADER, IdentityError, verify_identity
from coupon_dev.testing.plugin import (
    TEST_IDENTITY_SECRET,
    create_database,
    database_url_for,
    settings_env,
)
from coupon_dev.testing.provision import Infra
from gateway.app import create_app
from gateway.settings import Settings

TEST_ADMIN_TOKEN = "test-bootstrap-admin-token-0123456789"  # noqa: S105
TEST_PASSWORD = "correct horse battery"  # noqa: S105

ThroughGateway = Callable[..., Awaitable[TestClient[Any, Any]]]


def upstream_url(server: TestServer) -> str:
    """The base URL of a test server, as the gateway's ``*_upstreams`` settings take it."""
    return str(server.make_url("")).rstrip("/")


def settings_in_front_of(url: str, **values: Any) -> Settings:
    """Gateway settings whose upstreams (every service) are ``url``, with the test
    bootstrap admin token; ``values`` (a test's stores, say) add to or override them."""
    return Settings(
        **{
            "promotion_upstreams": url,
            "issuance_upstreams": url,
            "redemption_upstreams": url,
            "webhook_upstreams": url,
            "bootstrap_admin_token": TEST_ADMIN_TOKEN,
            **values,
        }
    )


@pytest.fixture
async def through_gateway(
    aiohttp_server: Any, aiohttp_client: Any, infra: Infra, redis_url: str
) -> AsyncIterator[ThroughGateway]:
    databases: list[str] = []

    async def start(app: web.Application, **gateway_settings: Any) -> TestClient[Any, Any]:
        upstream = await aiohttp_server(app)
        name = await create_database(infra.postgres_url, "test_gw_")
        databases.append(name)
        settings = settings_in_front_of(
            upstream_url(upstream),
            **settings_env(database_url_for(infra.postgres_url, name), redis_url),
            # Services' tests drive load through here; rate limits have their own tests.
            rate_limit_per_minute=10_000_000,
            user_rate_limit_per_minute=10_000_000,
            anonymous_rate_limit_per_minute=10_000_000,
            auth_failures_per_minute=10_000,
            **gateway_settings,
        )
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(settings), headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
        )
        return client

    yield start
    admin = await asyncpg.connect(infra.postgres_url)
    try:
        for name in databases:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _echo(request: web.Request) -> web.Response:
    """What the upstream saw: the verified principal and every identity header received."""
    received = request.headers.getall(IDENTITY_HEADER, [])
    try:
        principal: dict[str, str] | None = asdict(
            verify_identity(
                received[0] if len(received) == 1 else None,
                method=request.method,
                path=request.rel_url.raw_path,
                query=request.rel_url.raw_query_string,
                body=await request.read(),
                secret=TEST_IDENTITY_SECRET.encode(),
                max_age_s=30,
            ).principal
        )
    except IdentityError:
        principal = None
    body = {
        "method": request.method,
        "path": request.path,
        "principal": principal,
        "identityHeaders": len(received),
        "authorization": request.headers.get("Authorization"),
    }
    return web.json_response(body)


def echo_app() -> web.Application:
    """A stand-in upstream that answers every request with what it received."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    return app


StartGateway = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def gateways(
    aiohttp_server: Any, aiohttp_client: Any, service_env: dict[str, Any]
) -> StartGateway:
    """``await gateways(**settings)``: one more gateway replica (sharing this test's database
    and Redis) in front of one echo upstream; its client sends no credentials by default."""
    url = upstream_url(await aiohttp_server(echo_app()))

    async def start(**overrides: Any) -> TestClient[Any, Any]:
        settings = settings_in_front_of(url, **{**service_env, **overrides})
        client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
        return client

    return start


ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(name: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{name}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


async def create_token(
    client: TestClient[Any, Any], name: str, whitelist: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/api-tokens", json={"name": name, "whitelist": whitelist, **extra}, headers=ADMIN
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def register_and_login(
    client: TestClient[Any, Any], email: str, password: str = TEST_PASSWORD
) -> str:
    registered = await client.post(
        "/api/v1/users/register", json={"email": email, "password": password}
    )
    assert registered.status == 201, await registered.text()
    login = await client.post("/api/v1/users/login", json={"email": email, "password": password})
    assert login.status == 200, await login.text()
    token: str = (await login.json())["access"]["token"]
    return token


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def raw_request(
    client: TestClient[Any, Any],
    target: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    chunks: Iterable[bytes] | None = None,
) -> RawResponse:
    """Send ``method target HTTP/1.1`` to the server of ``client`` as written, the body (if
    any) in ``chunks`` with chunked transfer encoding; the whole answer read to the close."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {server.host}:{server.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append("Connection: close")
        if chunks is not None:
            lines.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        # The server may answer (413) and close before it has read the whole body.
        with contextlib.suppress(ConnectionError):
            for chunk in chunks or ():
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            if chunks is not None:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    if found.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return RawResponse(int(status_line.split()[1]), found, body)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += rest[:size]
        data = rest[size + 2 :]
