"""The reverse proxy: request bodies are read whole, responses stream back.

A request body (at most ``MAX_BODY_BYTES``, chunked or not; more is a 413 in the family's
envelope) is read before anything is sent: the signed identity covers its digest, and a
request whose replica refuses the connection (or does not accept it in time) can go to the
next one. Responses stream back as they arrive (small ones of known length go out in one
write, and so do those the audit log records, up to ``MAX_BODY_BYTES``: gateway.audit).
At most ``UPSTREAM_POOL_SIZE`` requests are in flight to one service; the next waits
up to ``POOL_TIMEOUT_S`` for one to finish, then is a 503. Connections are renewed as
:mod:`gateway.upstreams` says.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from aiohttp.http import RawResponseMessage
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader
from coupon_core.errors import (
    BadRequest,
    PayloadTooLarge,
    ServiceUnavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from coupon_core.http import MAX_BODY_BYTES
from coupon_core.identity import ANONYMOUS, IDENTITY_HEADER, Principal, sign_identity
from coupon_core.keys import PRINCIPAL, REQUEST_ID
from coupon_core.turns import NoTurn
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.api.middleware import forwarded_chain
from gateway.connections import NotTaken, Replica, exchange
from gateway.keys import PROXY_CONFIG, ROUTE_MATCH, ROUTER, UPSTREAM_CONNECTIONS, WHOLE_ANSWER
from gateway.routing import Upstream

log = logging.getLogger(__name__)

# Responses of known length up to this size are relayed in one write.
BUFFER_LIMIT = 64 * 1024
CHUNK = 64 * 1024

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)


# What the services are not sent: hop-by-hop headers, what the proxy sets from the body it
# sends (the body goes on as read: decoded, aiohttp undoes a Content-Encoding; an Expect was
# answered already, the body is read), and what only the gateway may say: a client-sent
# identity, request ID or forwarding chain is replaced, and the caller's secret stays at the
# edge (services learn who calls from the identity alone).
_NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "content-encoding",
    "expect",
    IDENTITY_HEADER.lower(),
    "authorization",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
}
# Set again by the gateway on the answer: its length is counted again for the body relayed.
_NOT_RELAYED = HOP_BY_HOP | {"content-length", "x-request-id"}


def _dropped(headers: CIMultiDictProxy[str], drop: frozenset[str]) -> frozenset[str]:
    """``drop`` (lower-case names) and whatever the headers' Connection lists."""
    listed = headers.getall("Connection", ())
    if listed:
        return drop | {token.strip().lower() for value in listed for token in value.split(",")}
    return drop


def request_head(
    request: web.Request,
    replica: Replica,
    principal: Principal,
    secret: bytes,
    body: bytes,
    last: bool,
) -> bytes:
    """The request line and headers sent to the service, serialised."""
    rel_url = request.rel_url
    path, query = rel_url.raw_path, rel_url.raw_query_string
    drop = _dropped(request.headers, _NOT_FORWARDED)
    identity = sign_identity(
        principal, method=request.method, path=path, query=query, body=body, secret=secret
    )
    parts = [
        request.method,
        " ",
        f"{path}?{query}" if query else path,
        " HTTP/1.1\r\nHost: ",
        replica.authority,
        "\r\n",
    ]
    lines = 2
    for name, value in request.headers.items():
        if name.lower() not in drop:
            parts += (name, ": ", value, "\r\n")
            lines += 1
    # X-Forwarded-For: the client and the trusted proxies after it, as the per-address limits
    # saw them; what a client wrote about itself is not passed on.
    parts.append(
        f"{IDENTITY_HEADER}: {identity}\r\n"
        f"X-Request-ID: {request[REQUEST_ID]}\r\n"
        f"X-Forwarded-For: {', '.join(forwarded_chain(request))}\r\n"
        f"X-Forwarded-Proto: {request.scheme}\r\n"
        f"X-Forwarded-Host: {request.host}\r\n"
    )
    lines += 5
    if request.body_exists:
        parts.append(f"Content-Length: {len(body)}\r\n")
        lines += 1
    if last:
        parts.append("Connection: close\r\n")
        lines += 1
    parts.append("\r\n")
    head = "".join(parts)
    # A CR or LF inside a name or a value would start a header (or a request) of the
    # sender's choosing at the service. The server's parser refuses them already; this
    # makes sure of it for every part written here, at the cost of two counts.
    if head.count("\n") != lines + 1 or head.count("\r") != lines + 1:
        raise BadRequest("A header name or value holds a line break.")
    return head.encode("utf-8", "surrogateescape")


async def proxy(
    request: web.Request, upstream: Upstream, principal: Principal
) -> web.StreamResponse:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
    # Past MAX_BODY_BYTES (the app's client_max_size) read() raises a 413, chunked or not.
    body = await request.read() if request.body_exists else b""
    try:
        await upstream.in_flight.take()
    except NoTurn:
        raise ServiceUnavailable(
            f"The gateway has {upstream.in_flight.size} requests in flight to the "
            f"{upstream.name} service; retry."
        ) from None
    try:
        return await _forward(request, upstream, principal, body)
    finally:
        upstream.in_flight.give_back()


async def _forward(
    request: web.Request, upstream: Upstream, principal: Principal, body: bytes
) -> web.StreamResponse:
    """Send the request to the service's replicas in turn until one takes it, and relay its
    answer. A replica that refuses the connection or does not accept it within
    ``UPSTREAM_CONNECT_TIMEOUT_S`` was sent nothing, so the next one is tried."""
    app = request.app
    config = app[PROXY_CONFIG]
    connections = app[UPSTREAM_CONNECTIONS]
    last_error: NotTaken | None = None
    for base in upstream.replicas():
        replica = connections.replica(base)
        try:
            connection = await replica.acquire()
        except NotTaken as exc:
            last_error = exc
            log.warning("upstream %s did not take %s: %s", upstream.name, base, exc)
            continue
        try:
            head = request_head(request, replica, principal, config.secret, body, connection.last)
            message, payload = await exchange(
                connection,
                head,
                body,
                head_only=request.method == "HEAD",
                read_timeout=config.timeout_s,
            )
            response = await _relay(request, message, payload)
        except BaseException as exc:
            connection.protocol.close()
            if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
                raise UpstreamTimeout(
                    f"The {upstream.name} service did not answer within {config.timeout_s:g}s."
                ) from None
            if isinstance(exc, (aiohttp.ClientError, ConnectionError, HttpProcessingError)):
                log.warning("upstream %s failed at %s: %r", upstream.name, base, exc)
                raise UpstreamUnavailable(f"The {upstream.name} service is unavailable.") from None
            raise
        replica.release(connection)
        return response
    log.warning("no replica of %s reachable: %s", upstream.name, last_error)
    raise UpstreamUnavailable(f"The {upstream.name} service is unavailable.")


async def _relay(
    request: web.Request, message: RawResponseMessage, payload: StreamReader
) -> web.StreamResponse:
    upstream_headers = message.headers
    drop = _dropped(upstream_headers, _NOT_RELAYED)
    headers = CIMultiDict([(k, v) for k, v in upstream_headers.items() if k.lower() not in drop])
    headers["X-Request-ID"] = request[REQUEST_ID]
    length_text = upstream_headers.get("Content-Length")
    length = int(length_text) if length_text is not None and length_text.isdigit() else None
    if payload.is_eof() or (
        length is not None
        and (length <= BUFFER_LIMIT or (length <= MAX_BODY_BYTES and WHOLE_ANSWER in request))
    ):
        # Small bodies of known length go out in one write with the headers: on a busy
        # gateway the system calls of a chunk-by-chunk relay cost more than the copy. An
        # answer the audit log records is read whole too (checked only past the small ones).
        return web.Response(
            status=message.code, reason=message.reason, headers=headers, body=await payload.read()
        )
    response = web.StreamResponse(status=message.code, reason=message.reason, headers=headers)
    if length is not None:
        response.content_length = length
    await response.prepare(request)
    try:
        async for chunk in payload.iter_chunked(CHUNK):
            await response.write(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Headers are gone already: the only honest signal left is a cut connection.
        log.warning("upstream body broke off for %s: %r", request.path, exc)
        response.force_close()
        return response
    await response.write_eof()
    return response


async def proxy_handler(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER]
    # The edge checks matched the path already; without them (public paths, the auth
    # benchmark's baseline) it is matched here.
    match = request.get(ROUTE_MATCH) or router.routes.match(request.path)
    upstream = router.resolve(match)
    if upstream is None:
        raise web.HTTPNotFound()
    return await proxy(request, upstream, request.get(PRINCIPAL, ANONYMOUS))
