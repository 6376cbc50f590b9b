"""Every listener bounds how long it waits for a request's headers and for its body, and
refuses a request line or headers it cannot parse in the URL family's envelope (SPEC
section 7): a real application served the way every process serves it
(``coupon_core.web.app_runner``), driven over raw sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from coupon_core.http import json_response, read_json
from coupon_core.settings import ServiceSettings
from coupon_core.web import app_runner, build_app

# The bounds under test are small so the tests are fast; the deadlines the tests wait
# with are far below what an unbounded aiohttp server gives (75 s keep-alive, 10 s of
# draining an unread body), so only the bounds can meet them.
BOUND_S = 0.5
DEADLINE_S = 5.0

FAMILIES = {
    "crm": ("/api/v1/users/login", {"status": "error", "code": "request_timeout"}),
    "sylius": ("/api/v1/promotions/", {"code": 408}),
    "v11": ("/v1.1/coupon/redeem", {"response": {"status": {"success": "false", "code": 408}}}),
    "v2": ("/v2/coupon/issue", {"errors": [{"code": 408}], "warnings": []}),
}

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _echo(request: web.Request) -> web.Response:
    return json_response(await read_json(request))


async def _ignores_body(request: web.Request) -> web.Response:
    return json_response({"ignored": True})


@pytest.fixture
async def connect(service_env: dict[str, Any]) -> AsyncIterator[Connect]:
    settings = ServiceSettings(**service_env, header_timeout_s=BOUND_S, body_timeout_s=BOUND_S)
    app = build_app(settings, service="test", migrations_dir=None, verify_identity=False)
    for path, _ in FAMILIES.values():
        app.router.add_post(path, _echo)
    app.router.add_post("/v2/ignores-body", _ignores_body)
    runner = app_runner(app, settings)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    writers: list[asyncio.StreamWriter] = []

    async def open_one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        return reader, writer

    yield open_one
    for writer in writers:
        writer.close()
    await runner.cleanup()


def _head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One whole response: status, headers (lower-case names), body."""
    async with asyncio.timeout(DEADLINE_S):
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode().split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


async def _closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection within the deadline (reading whatever it
    still sends)."""
    async with asyncio.timeout(DEADLINE_S):
        while await reader.read(1024):
            pass
    return True


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(
            _contains(a, e) for a, e in zip(actual, expected, strict=True)
        )
    return bool(actual == expected)


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_a_body_that_stops_coming_is_a_408_in_the_family_envelope_then_closed(
    connect: Connect, family: str
) -> None:
    path, envelope = FAMILIES[family]
    reader, writer = await connect()
    writer.write(_head(path, 1000) + b'{"email":')
    status, headers, body = await _response(reader)
    assert status == 408
    assert headers["connection"] == "close"
    assert _contains(orjson.loads(body), envelope), body
    assert await _closed(reader)


async def test_a_body_nobody_reads_is_cut_off_too(connect: Connect) -> None:
    reader, writer = await connect()
    writer.write(_head("/v2/ignores-body", 100_000) + b"x" * 10)
    status, _, _ = await _response(reader)
    assert status == 200
    # aiohttp would drain the rest of the body for 10 s before closing.
    assert await _closed(reader)


@pytest.mark.parametrize(
    "sent",
    [b"", b"POST /v2/coupon/issue HTTP/1.1\r\n", b"POST /v2/coupon/issue HTTP/1.1\r\nHost: t"],
    ids=["nothing", "request-line", "half-a-header"],
)
async def test_headers_that_stop_coming_get_the_connection_closed(
    connect: Connect, sent: bytes
) -> None:
    reader, writer = await connect()
    writer.write(sent)
    assert await _closed(reader)


async def test_a_kept_alive_connection_idles_but_its_next_head_is_bounded(
    connect: Connect,
) -> None:
    reader, writer = await connect()
    body = b'{"code": "A"}'
    writer.write(_head("/v2/coupon/issue", len(body)) + body)
    status, _, echoed = await _response(reader)
    assert (status, orjson.loads(echoed)) == (200, {"code": "A"})
    # Idle between requests, the connection outlives the header bound (the keep-alive
    # timer, not the header deadline, governs it)...
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(3 * BOUND_S):
            await reader.read(1)
    writer.write(_head("/v2/coupon/issue", len(body)) + body)
    status, _, _ = await _response(reader)
    assert status == 200
    # ...and the head of a later request is bounded like the first one.
    writer.write(b"POST /v2/coupon/issue HTTP/1.1\r\n")
    assert await _closed(reader)


# A 400 in each family's envelope, as the error middleware writes one for bad input.
REFUSED = {
    "crm": {"status": "error", "code": "invalid_input"},
    "sylius": {"code": 400},
    "v11": {"response": {"status": {"success": "false", "code": 400}}},
    "v2": {"errors": [{"code": 400}], "warnings": []},
    "plain": {"error": "invalid_input"},
}
LONG = "x" * 9000  # past aiohttp's 8190-byte limit on a request line or header line


@pytest.mark.parametrize(
    ("head", "family"),
    [
        ("POST /api/v1/promotions/ HTTP/1.1\r\nTransfer-Encoding: 5!\r\n", "sylius"),
        ("POST /v2/coupon/issue HTTP/1.1\r\nTransfer-Encoding: 5!\r\n", "v2"),
        ("POST /v1.1/coupon/redeem HTTP/1.1\r\nTransfer-Encoding: 5!\r\n", "v11"),
        ("GET /api/v1/users/me HTTP/1.1\r\nTransfer-Encoding: 5!\r\n", "crm"),
        ("GET /v2/coupon/issue HTTP/1.1\r\nBad Name: value\r\n", "v2"),
        (f"GET /api/v1/users/me HTTP/1.1\r\nX-Long: {LONG}\r\n", "crm"),
        (f"GET /v1.1/coupon/redeem?q={LONG} HTTP/1.1\r\n", "v11"),
        ("get /api/v1/promotions/ HTTP/1.1\r\n", "sylius"),
        (
            "POST /v2/coupon/issue HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n",
            "v2",
        ),
        ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", "plain"),
    ],
    ids=[
        "bad-transfer-encoding-sylius",
        "bad-transfer-encoding-v2",
        "bad-transfer-encoding-v11",
        "bad-transfer-encoding-crm",
        "invalid-header-name",
        "over-long-header-line",
        "over-long-request-line",
        "lower-case-method",
        "length-and-chunked",
        "tls-on-the-plain-port",
    ],
)
async def test_an_unparsable_head_is_a_400_in_the_family_envelope_then_closed(
    connect: Connect, head: str, family: str
) -> None:
    reader, writer = await connect()
    writer.write(head.encode("latin-1") + b"Host: test\r\n\r\n")
    await _refused_in(reader, family)


async def test_a_bad_chunk_size_in_the_packet_of_its_head_is_refused_the_same_way(
    connect: Connect,
) -> None:
    reader, writer = await connect()
    writer.write(
        b"POST /v1.1/coupon/redeem HTTP/1.1\r\nHost: test\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    )
    await _refused_in(reader, "v11")


async def _refused_in(reader: asyncio.StreamReader, family: str) -> None:
    """The answer is a 400 in ``family``'s envelope saying the request could not be parsed,
    and the connection is closed after it."""
    status, headers, body = await _response(reader)
    assert status == 400
    assert headers["content-type"].startswith("application/json"), headers
    assert _contains(orjson.loads(body), REFUSED[family]), body
    assert "could not be parsed" in body.decode(), body
    assert await _closed(reader)


async def test_a_refused_head_after_a_served_request_gets_its_own_family(
    connect: Connect,
) -> None:
    reader, writer = await connect()
    body = b'{"code": "A"}'
    writer.write(_head("/v2/coupon/issue", len(body)) + body)
    status, _, _ = await _response(reader)
    assert status == 200
    writer.write(b"POST /api/v1/promotions/ HTTP/1.1\r\nTransfer-Encoding: 5!\r\n\r\n")
    await _refused_in(reader, "sylius")
