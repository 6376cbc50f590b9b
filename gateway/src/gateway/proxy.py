"""The streaming reverse proxy: request and response bodies flow through in chunks.

Small request bodies (up to ``BUFFER_LIMIT``) are read first, so a request whose replica
refuses the connection can be sent to the next replica; larger or chunked bodies stream
straight to one replica. Responses always stream back as they arrive.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from coupon_core.errors import PayloadTooLarge, UpstreamTimeout, UpstreamUnavailable
from coupon_core.http import MAX_BODY_BYTES
from coupon_core.identity import ANONYMOUS, IDENTITY_HEADER, Principal, sign_identity
from coupon_core.keys import HTTP_SESSION, PRINCIPAL, REQUEST_ID
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.api.middleware import forwarded_chain
from gateway.keys import ROUTER, SETTINGS
from gateway.routing import Upstream

log = logging.getLogger(__name__)

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


def _strip_hop_by_hop(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    listed = {
        token.strip().lower()
        for value in headers.getall("Connection", [])
        for token in value.split(",")
    }
    drop = HOP_BY_HOP | listed
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in drop)


def upstream_request_headers(
    request: web.Request, principal: Principal, secret: bytes
) -> CIMultiDict[str]:
    headers = _strip_hop_by_hop(request.headers)
    headers.popall("Host", None)
    # Only the gateway speaks for the caller: a client-sent identity is discarded, and the
    # caller's secret stays at the edge (services learn who calls from the identity alone).
    headers.popall(IDENTITY_HEADER, None)
    headers.popall("Authorization", None)
    headers[IDENTITY_HEADER] = sign_identity(
        principal, method=request.method, path=request.path, secret=secret
    )
    headers["X-Request-ID"] = request[REQUEST_ID]
    # The client and the trusted proxies after it, as the per-address limits saw them; what a
    # client wrote about itself is not passed on.
    headers["X-Forwarded-For"] = ", ".join(forwarded_chain(request))
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


async def _limited(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream.iter_chunked(CHUNK):
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
        yield chunk


async def proxy(
    request: web.Request, upstream: Upstream, principal: Principal
) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    session = request.app[HTTP_SESSION]
    headers = upstream_request_headers(
        request, principal, settings.identity_secret.get_secret_value().encode()
    )
    length = request.content_length
    body: bytes | AsyncIterator[bytes] | None
    if length is not None and length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
    if not request.body_exists:
        body = None
    elif length is not None and length <= BUFFER_LIMIT:
        body = await request.read()
    else:
        body = _limited(request.content)
    replayable = not isinstance(body, AsyncIterator)
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=settings.upstream_connect_timeout_s,
        sock_read=settings.upstream_timeout_s,
    )
    attempts = upstream.attempts() if replayable else upstream.attempts()[:1]
    last_error: Exception | None = None
    for base in attempts:
        url = URL(base + request.raw_path, encoded=True)
        try:
            async with session.request(
                request.method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=timeout,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            ) as upstream_response:
                return await _relay(request, upstream_response)
        except aiohttp.ClientConnectorError as exc:
            # Nothing was sent: the next replica may take it.
            last_error = exc
            log.warning("upstream %s refused %s: %s", upstream.name, base, exc)
            continue
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(
                f"The {upstream.name} service did not answer within "
                f"{settings.upstream_timeout_s:g}s."
            ) from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.warning("upstream %s failed at %s: %s", upstream.name, base, exc)
            raise UpstreamUnavailable(f"The {upstream.name} service is unavailable.") from None
    log.warning("no replica of %s reachable: %s", upstream.name, last_error)
    raise UpstreamUnavailable(f"The {upstream.name} service is unavailable.")


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    headers = _strip_hop_by_hop(upstream.headers)
    headers["X-Request-ID"] = request[REQUEST_ID]
    length = upstream.content_length
    if length is not None and length <= BUFFER_LIMIT:
        # Small bodies of known length go out in one write with the headers: on a busy
        # gateway the system calls of a chunk-by-chunk relay cost more than the copy.
        body = await upstream.read()
        headers.popall("Content-Length", None)
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
