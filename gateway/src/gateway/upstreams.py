"""The gateway's HTTP clients to the services, made and closed with the application: the
proxy's connections (:mod:`gateway.connections`) and a client session for
``/api/v1/status``, ``/openapi.json`` and the audit log's reads before a change
(:mod:`gateway.audit`), none of them on the proxy's path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from coupon_core.keys import HTTP_SESSION

from gateway.connections import KEEPALIVE_S, UpstreamConnections
from gateway.keys import SETTINGS, UPSTREAM_CONNECTIONS


async def upstream_session_ctx(app: web.Application) -> AsyncIterator[None]:
    """The proxy's connections, and the client session ``/api/v1/status``,
    ``/openapi.json`` and the audit log use."""
    settings = app[SETTINGS]
    connections = UpstreamConnections(
        max_requests=settings.upstream_connection_max_requests,
        max_age_s=settings.upstream_connection_max_age_s,
        connect_timeout_s=settings.upstream_connect_timeout_s,
    )
    app[UPSTREAM_CONNECTIONS] = connections
    # No cookie jar: a cookie one answer sets is its client's, never sent with the requests
    # of others (a jar would add it to every later request to that host).
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    app[HTTP_SESSION] = session
    try:
        yield
    finally:
        connections.close()
        await session.close()
