"""The reverse proxy: request bodies are read whole, responses stream back.

A request body (at most ``MAX_BODY_BYTES``, chunked or not; more is a 413 in the family's
envelope) is read before anything is sent: the signed identity covers its digest, and a
request whose replica refuses the connection (or does not accept it in time) can go to the
next one. Responses stream back as they arrive (small ones of known length go out in one
write). At most ``UPSTREAM_POOL_SIZE`` requests are in flight to one service; the next waits
up to ``POOL_TIMEOUT_S`` for one to finish, then is a 503. Connections are renewed as
:mod:`gateway.upstreams` says.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from coupon_core.errors import (
    PayloadTooLarge,
    ServiceUnavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from coupon_core.http import MAX_BODY_BYTES
from coupon_core.identity import ANONYMOUS, IDENTITY_HEADER, Principal, sign_identity
from coupon_core.keys import HTTP_SESSION, PRINCIPAL, REQUEST_ID
from coupon_core.turns import NoTurn
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.api.middleware import forwarded_chain
from gateway.keys import PROXY_CONFIG, ROUTER
from gateway.proxy_config import ProxyConfig
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


# What the services are not sent: hop-by-hop headers, what the client library sets from the
# body it sends (the body goes on as read: decoded, aiohttp undoes a Content-Encoding), and
# what only the gateway may say: a client-sent identity is discarded, and the caller's
# secret stays at the edge (services learn who calls from the identity alone).
_NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "content-encoding",
    IDENTITY_HEADER.lower(),
    "authorization",
}
# Set again by the gateway on the answer: its length is counted again for the body relayed.
_NOT_RELAYED = HOP_BY_HOP | {"content-length"}


def _without(headers: CIMultiDictProxy[str], drop: frozenset[str]) -> CIMultiDict[str]:
    """``headers`` less ``drop`` (lower-case names) and whatever their Connection lists."""
    listed = headers.getall("Connection", ())
    if listed:
        drop = drop | {token.strip().lower() for value in listed for token in value.split(",")}
    return CIMultiDict([(k, v) for k, v in headers.items() if k.lower() not in drop])


def upstream_request_headers(
    request: web.Request, principal: Principal, secret: bytes, body: bytes
) -> CIMultiDict[str]:
    headers = _without(request.headers, _NOT_FORWARDED)
    rel_url = request.rel_url
    headers[IDENTITY_HEADER] = sign_identity(
        principal,
        method=request.method,
        path=rel_url.raw_path,
        query=rel_url.raw_query_string,
        body=body,
        secret=secret,
    )
    headers["X-Request-ID"] = request[REQUEST_ID]
    # The client and the trusted proxies after it, as the per-address limits saw them; what a
    # client wrote about itself is not passed on.
    headers["X-Forwarded-For"] = ", ".join(forwarded_chain(request))
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


async def proxy(
    request: web.Request, upstream: Upstream, principal: Principal
) -> web.StreamResponse:
    config = request.app[PROXY_CONFIG]
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
    # Past MAX_BODY_BYTES (the app's client_max_size) read() raises a 413, chunked or not.
    body = await request.read() if request.body_exists else b""
    headers = upstream_request_headers(request, principal, config.secret, body)
    try:
        await upstream.in_flight.take()
    except NoTurn:
        raise ServiceUnavailable(
            f"The gateway has {upstream.in_flight.size} requests in flight to the "
            f"{upstream.name} service; retry."
        ) from None
    try:
        return await _forward(request, upstream, config, headers, body)
    finally:
        upstream.in_flight.give_back()


async def _forward(
    request: web.Request,
    upstream: Upstream,
    config: ProxyConfig,
    headers: CIMultiDict[str],
    body: bytes,
) -> web.StreamResponse:
    """Send the request to the service's replicas in turn until one takes it, and relay its
    answer. A replica that refuses the connection or does not accept it within
    ``UPSTREAM_CONNECT_TIMEOUT_S`` was sent nothing, so the next one is tried."""
    session = request.app[HTTP_SESSION]
    rel_url = request.rel_url
    last_error: Exception | None = None
    for url in upstream.forward_urls(rel_url.raw_path, rel_url.raw_query_string):
        try:
            async with session.request(
                request.method,
                url,
                headers=headers,
                data=body if request.body_exists else None,
                allow_redirects=False,
                timeout=config.timeout,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            ) as upstream_response:
                return await _relay(request, upstream_response)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Nothing was sent: the next replica may take it.
            last_error = exc
            log.warning("upstream %s did not take %s: %r", upstream.name, url.origin(), exc)
            continue
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(
                f"The {upstream.name} service did not answer within {config.timeout_s:g}s."
            ) from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.warning("upstream %s failed at %s: %s", upstream.name, url.origin(), exc)
            raise UpstreamUnavailable(f"The {upstream.name} service is unavailable.") from None
    log.warning("no replica of %s reachable: %s", upstream.name, last_error)
    raise UpstreamUnavailable(f"The {upstream.name} service is unavailable.")


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    headers = _without(upstream.headers, _NOT_RELAYED)
    headers["X-Request-ID"] = request[REQUEST_ID]
    length = upstream.content_length
    if length is not None and length <= BUFFER_LIMIT:
        # Small bodies of known length go out in one write with the headers: on a busy
        # gateway the system calls of a chunk-by-chunk relay cost more than the copy.
        body = await upstream.read()
        return web.Response(
            status=upstream.status, reason=upstream.reason, headers=headers, body=body
        )
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    if length is not None:
        response.content_length = length
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_chunked(CHUNK):
            await response.write(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Headers are gone already: the only honest signal left is a cut connection.
        log.warning("upstream body broke off for %s: %r", request.path, exc)
        response.force_close()
        return response
    await response.write_eof()
    return response


async def proxy_handler(request: web.Request) -> web.StreamResponse:
    upstream = request.app[ROUTER].resolve(request.path)
    if upstream is None:
        raise web.HTTPNotFound()
    return await proxy(request, upstream, request.get(PRINCIPAL, ANONYMOUS))
