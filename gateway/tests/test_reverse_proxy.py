"""The gateway as a streaming reverse proxy: what passes through, what does not, and
what happens when an upstream is down or slow."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from coupon_core.identity import IDENTITY_HEADER, verify_identity
from coupon_dev.gateway_fixtures import (
    TEST_ADMIN_TOKEN,
    register_and_login,
    settings_in_front_of,
    upstream_url,
)
from coupon_dev.ports import free_port
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET
from gateway.app import create_app

AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
CHUNK = b"x" * 65536


class Upstream:
    """A real aiohttp service standing in for promotion/issuance/redemption."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.first_chunk_sent = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", "/v2/coupon/series/echo", self.echo)
        self.app.router.add_get("/v2/coupon/series/cookie", self.cookie)
        self.app.router.add_post("/v2/coupon/series/upload", self.upload)
        self.app.router.add_get("/api/v1/promotions/P/coupons/export.csv", self.stream)
        self.app.router.add_get("/v1.1/coupon/slow", self.slow)

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        identity = verify_identity(
            request.headers.get(IDENTITY_HEADER),
            method=request.method,
            path=request.rel_url.raw_path,
            query=request.rel_url.raw_query_string,
            body=body,
            secret=TEST_IDENTITY_SECRET.encode(),
            max_age_s=30,
        )
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "headers": dict(request.headers),
                "body": body.decode(),
                "principal": identity.principal.kind,
            },
            headers={"X-Upstream": "yes", "Connection": "keep-alive, X-Drop", "X-Drop": "1"},
        )

    async def cookie(self, request: web.Request) -> web.Response:
        response = web.json_response({})
        response.set_cookie("upstream_session", "meant-for-one-client")
        return response

    async def upload(self, request: web.Request) -> web.Response:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_chunked(4096):
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"sha256": digest.hexdigest(), "size": size})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await response.prepare(request)
        await response.write(CHUNK)
        self.first_chunk_sent.set()
        await self.release.wait()  # the rest only after the client has seen the first chunk
        for _ in range(15):
            await response.write(CHUNK)
        await response.write_eof()
        return response

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.json_response({})


@pytest.fixture
async def upstream(aiohttp_server: Any) -> AsyncIterator[tuple[Upstream, TestServer]]:
    fake = Upstream()
    server = await aiohttp_server(fake.app)
    yield fake, server
    fake.release.set()


@pytest.fixture
async def gateway(
    aiohttp_client: Any, service_env: dict[str, Any], upstream: tuple[Upstream, TestServer]
) -> Any:
    settings = settings_in_front_of(
        upstream_url(upstream[1]), **service_env, upstream_timeout_s=0.5
    )
    return await aiohttp_client(create_app(settings), headers=AUTH)


async def test_method_path_query_headers_and_body_pass_through(gateway: Any) -> None:
    response = await gateway.request(
        "PUT",
        "/v2/coupon/series/echo?a=1&b=x%26y%20z",
        data=b'{"x": 1}',
        headers={"Content-Type": "application/json", "X-Custom": "kept", "X-Request-ID": "rid-7"},
    )
    assert response.status == 200
    assert response.headers["X-Upstream"] == "yes"
    assert response.headers["X-Request-ID"] == "rid-7"
    seen = await response.json()
    assert (seen["method"], seen["path"], seen["raw_path"], seen["body"]) == (
        "PUT",
        "/v2/coupon/series/echo",
        "/v2/coupon/series/echo?a=1&b=x%26y%20z",
        '{"x": 1}',
    )
    assert seen["headers"]["X-Custom"] == "kept"
    assert seen["headers"]["X-Request-ID"] == "rid-7"
    assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"


async def test_hop_by_hop_headers_are_dropped_both_ways(gateway: Any) -> None:
    response = await gateway.get(
        "/v2/coupon/series/echo",
        headers={"Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1", "TE": "trailers"},
    )
    seen = (await response.json())["headers"]
    assert "X-Secret-Hop" not in seen
    assert "TE" not in seen
    assert "X-Drop" not in response.headers


async def test_head_relays_the_upstreams_headers_and_no_body(gateway: Any) -> None:
    response = await gateway.head("/v2/coupon/series/echo")
    assert response.status == 200
    assert response.headers["X-Upstream"] == "yes"
    assert await response.read() == b""
    # The connection carries the next request as usual (no body left over on it).
    again = await gateway.get("/v2/coupon/series/echo")
    assert (await again.json())["method"] == "GET"


async def test_a_body_sent_with_expect_continue_arrives_once_and_whole(gateway: Any) -> None:
    """The gateway answers the client's Expect itself (it reads the body before forwarding),
    so the service gets the body with the request and no Expect of its own to answer."""
    body = b"y" * 100_000
    response = await gateway.post("/v2/coupon/series/upload", data=body, expect100=True)
    assert response.status == 200
    assert await response.json() == {"sha256": hashlib.sha256(body).hexdigest(), "size": 100_000}
    seen = await (await gateway.post("/v2/coupon/series/echo", data=b"z", expect100=True)).json()
    assert "Expect" not in seen["headers"]
    assert seen["body"] == "z"


async def test_a_cookie_an_upstream_sets_is_not_sent_with_other_requests(
    aiohttp_client: Any, service_env: dict[str, Any], upstream: tuple[Upstream, TestServer]
) -> None:
    """The gateway relays a Set-Cookie to its client and keeps nothing: the upstream's next
    request, another client's, carries no cookie of the first answer."""
    _, server = upstream
    # By name, not by IP address: a cookie jar would keep the cookies of a named host.
    named = upstream_url(server).replace("127.0.0.1", "localhost")
    settings = settings_in_front_of(named, **service_env)
    first = await aiohttp_client(create_app(settings), headers=AUTH)
    response = await first.get("/v2/coupon/series/cookie")
    assert response.status == 200
    assert "upstream_session" in response.cookies
    other = await aiohttp_client(first.server, headers=AUTH)
    seen = await (await other.get("/v2/coupon/series/echo")).json()
    assert "Cookie" not in seen["headers"]


async def test_a_client_cannot_forge_the_identity(gateway: Any) -> None:
    forged = "eyJraW5kIjoidXNlciJ9.9999999999.deadbeef"
    response = await gateway.get("/v2/coupon/series/echo", headers={IDENTITY_HEADER: forged})
    seen = await response.json()
    assert seen["headers"][IDENTITY_HEADER] != forged  # re-signed by the gateway, verified upstream


async def test_request_id_is_assigned_when_absent(gateway: Any) -> None:
    response = await gateway.get("/v2/coupon/series/echo")
    seen = await response.json()
    assert len(seen["headers"]["X-Request-ID"]) == 32
    assert response.headers["X-Request-ID"] == seen["headers"]["X-Request-ID"]


async def test_a_chunked_request_body_reaches_the_upstream_whole(gateway: Any) -> None:
    parts = [bytes([i]) * 50_000 for i in range(16)]  # 800 kB, sent chunked

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    response = await gateway.post("/v2/coupon/series/upload", data=body())
    expected = b"".join(parts)
    assert await response.json() == {
        "sha256": hashlib.sha256(expected).hexdigest(),
        "size": len(expected),
    }


async def test_response_body_streams_before_the_upstream_finishes(
    gateway: Any, upstream: tuple[Upstream, TestServer]
) -> None:
    fake, _ = upstream
    response = await gateway.get("/api/v1/promotions/P/coupons/export.csv")
    assert response.status == 200
    # The upstream is blocked after its first chunk: reading it proves nothing was buffered.
    first = await response.content.readexactly(len(CHUNK))
    assert first == CHUNK
    fake.release.set()
    rest = await response.read()
    assert len(rest) == 15 * len(CHUNK)


async def test_slow_upstream_is_504_in_the_family_envelope(gateway: Any) -> None:
    response = await gateway.get("/v1.1/coupon/slow")
    assert response.status == 504
    body = await response.json()
    assert body["response"]["status"]["code"] == 504


async def test_unknown_path_is_404_at_the_gateway(gateway: Any) -> None:
    response = await gateway.get("/v3/nothing")
    assert response.status == 404


async def test_upstream_down_is_502_and_heals_without_restart(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    port = free_port()
    gateway = await aiohttp_client(
        create_app(settings_in_front_of(f"http://127.0.0.1:{port}", **service_env)), headers=AUTH
    )
    down = await gateway.get("/v2/coupon/series/echo")
    assert down.status == 502
    assert (await down.json())["errors"][0]["code"] == 502
    # The CRM endpoint behind the gateway takes user tokens only.
    user = {"Authorization": f"Bearer {await register_and_login(gateway, 'ann@example.com')}"}
    for family, path, headers in (
        ("sylius", "/api/v1/promotions/", AUTH),
        ("crm", "/api/v1/coupon/activate", user),
    ):
        response = await gateway.get(path, headers=headers)
        assert response.status == 502, family
    server = TestServer(Upstream().app, port=port)
    await server.start_server()
    try:
        healed = await gateway.get("/v2/coupon/series/echo")
        assert healed.status == 200
    finally:
        await server.close()
    down_again = await gateway.get("/v2/coupon/series/echo")
    assert down_again.status == 502


async def test_a_refused_replica_is_skipped(
    aiohttp_client: Any,
    service_env: dict[str, Any],
    upstream: tuple[Upstream, TestServer],
    reserved_port: int,
) -> None:
    alive = upstream_url(upstream[1])
    dead = f"http://127.0.0.1:{reserved_port}"
    gateway = await aiohttp_client(
        create_app(settings_in_front_of(f"{dead},{alive}", **service_env)), headers=AUTH
    )
    statuses = [(await gateway.get("/v2/coupon/series/echo")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 200]

    async def chunked() -> AsyncIterator[bytes]:
        yield b'{"x": '
        yield b"1}"

    # A body is read whole before it is sent, so a chunked one can go to the next replica.
    for _ in range(2):
        response = await gateway.post("/v2/coupon/series/echo", data=chunked())
        assert response.status == 200
        seen = await response.json()
        assert (seen["body"], seen["principal"]) == ('{"x": 1}', "api_token")
