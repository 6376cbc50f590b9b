"""The gateway's HTTP client to the services, made so that added replicas get traffic.

A Kubernetes Service spreads *connections*, not requests: kube-proxy picks a pod when a
connection opens, and every request on it goes to that pod. A gateway that keeps its
connections alive for as long as they are busy therefore never sends anything to the pods
the autoscaler adds. So each connection is used for at most
``UPSTREAM_CONNECTION_MAX_REQUESTS`` requests and ``UPSTREAM_CONNECTION_MAX_AGE_S`` seconds
(the request reaching either bound is its last; it is then closed instead of kept alive,
and the next request opens a new one, which the Service may send to any pod).
aiohttp's own ``keepalive_timeout`` bounds only how long a connection may stay idle.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from weakref import WeakKeyDictionary

import aiohttp
from aiohttp import web
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from coupon_core.keys import HTTP_SESSION

from gateway.keys import SETTINGS

# How long an idle connection is kept for its next request (the services close theirs
# after 75 s idle, so the gateway always closes first).
KEEPALIVE_S = 30.0


class RenewingConnector(aiohttp.TCPConnector):
    """A :class:`aiohttp.TCPConnector` that renews its connections: each is handed out for
    at most ``max_requests`` requests, and not again once ``max_age_s`` old. The hand-out
    that reaches a bound marks the connection to be closed when its request is done
    (aiohttp closes a marked connection on release instead of pooling it)."""

    def __init__(self, *, max_requests: int, max_age_s: float, keepalive_timeout: float) -> None:
        # No connection limit here: the proxy bounds requests in flight per service itself
        # (Upstream.turns), so that waiting for a connection (a 503) is told apart from a
        # replica that does not accept one in time (the next replica is tried).
        super().__init__(limit=0, limit_per_host=0, keepalive_timeout=keepalive_timeout)
        self._max_requests = max_requests
        self._max_age_s = max_age_s
        # (first hand-out, hand-outs) of each open connection.
        self._uses: WeakKeyDictionary[ResponseHandler, tuple[float, int]] = WeakKeyDictionary()

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - the signature of aiohttp's method
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        if protocol is not None:
            now = time.monotonic()
            first, uses = self._uses.get(protocol, (now, 0))
            uses += 1
            if uses >= self._max_requests or now - first >= self._max_age_s:
                protocol.force_close()  # this request is the connection's last
                self._uses.pop(protocol, None)
            else:
                self._uses[protocol] = (first, uses)
        return connection


async def upstream_session_ctx(app: web.Application) -> AsyncIterator[None]:
    """The client session the proxy, ``/api/v1/status`` and ``/openapi.json`` use."""
    settings = app[SETTINGS]
    connector = RenewingConnector(
        max_requests=settings.upstream_connection_max_requests,
        max_age_s=settings.upstream_connection_max_age_s,
        keepalive_timeout=KEEPALIVE_S,
    )
    # No cookie jar: a cookie one answer sets is its client's, never sent with the requests
    # of others (a jar would add it to every later request to that host).
    session = aiohttp.ClientSession(
        connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    )
    app[HTTP_SESSION] = session
    yield
    await session.close()
