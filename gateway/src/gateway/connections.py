"""The gateway's connections to the services: kept alive, renewed so that added replicas get
traffic, and used without a general-purpose HTTP client on the way.

A Kubernetes Service spreads *connections*, not requests: kube-proxy picks a pod when a
connection opens, and every request on it goes to that pod. A gateway that keeps its
connections alive for as long as they are busy therefore never sends anything to the pods
the autoscaler adds. So each connection is used for at most
``UPSTREAM_CONNECTION_MAX_REQUESTS`` requests and ``UPSTREAM_CONNECTION_MAX_AGE_S`` seconds
(the request reaching either bound is its last: it says ``Connection: close``, and the next
request opens a new connection, which the Service may send to any pod). A connection idle
for ``KEEPALIVE_S`` is not used again (the services close theirs after 75 s idle, so the
gateway always gives up first).

Why not ``aiohttp.ClientSession``: on every request it builds a request object, resolves
cookies, auth, proxies and compression, looks its connection up by a computed key and runs
trace hooks the proxy never uses; that was a third of the gateway's CPU per proxied request
(bench/edge.py). Here a request is one ``write`` of bytes the proxy serialised, and the
answer is read by aiohttp's own response protocol (its C HTTP parser, read timeout,
chunked bodies and flow control), as the client session would have read it. The session
stays for ``/api/v1/status`` and ``/openapi.json``, which are not on any request's path.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

from aiohttp.client_proto import ResponseHandler
from aiohttp.http import RawResponseMessage
from aiohttp.streams import StreamReader
from yarl import URL

# How long an idle connection is kept for its next request.
KEEPALIVE_S = 30.0
# Read buffer of a connection: a response body arrives in pieces of at most this size.
READ_BUFFER = 64 * 1024


class NotTaken(Exception):
    """The replica did not accept a connection (refused, unreachable or not in time): it was
    sent nothing, so the request may go to another replica."""


@dataclass(slots=True)
class Connection:
    protocol: ResponseHandler
    opened: float
    uses: int = 0
    idle_since: float = 0.0
    # This request is the connection's last (a renewal bound reached).
    last: bool = False


class Replica:
    """The connections to one replica: idle ones, most recently used first."""

    def __init__(self, base: URL, *, max_requests: int, max_age_s: float, connect_timeout_s: float):
        if base.host is None or base.port is None:
            raise ValueError(f"upstream {base} has no host or port")
        self.host: str = base.host
        self.port: int = base.port
        self.authority = base.raw_authority
        self.ssl: ssl.SSLContext | bool | None = True if base.scheme == "https" else None
        self.max_requests = max_requests
        self.max_age_s = max_age_s
        self.connect_timeout_s = connect_timeout_s
        self._idle: list[Connection] = []

    async def acquire(self) -> Connection:
        now = time.monotonic()
        idle = self._idle
        while idle:
            connection = idle.pop()
            if connection.protocol.is_connected() and now - connection.idle_since < KEEPALIVE_S:
                break
            connection.protocol.close()
        else:
            connection = await self._open(now)
        connection.uses += 1
        connection.last = (
            connection.uses >= self.max_requests or now - connection.opened >= self.max_age_s
        )
        return connection

    def release(self, connection: Connection) -> None:
        """After the answer was read to its end: kept for the next request, unless it was
        the connection's last or the connection cannot carry another."""
        protocol = connection.protocol
        if connection.last or protocol.should_close or not protocol.is_connected():
            protocol.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    async def _open(self, now: float) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, protocol = await loop.create_connection(
                    lambda: ResponseHandler(loop), self.host, self.port, ssl=self.ssl
                )
        except TimeoutError:
            raise NotTaken(f"no connection within {self.connect_timeout_s:g}s") from None
        except OSError as exc:
            raise NotTaken(repr(exc)) from None
        return Connection(protocol, now)

    def close(self) -> None:
        for connection in self._idle:
            connection.protocol.close()
        self._idle.clear()


class UpstreamConnections:
    """A :class:`Replica` for every upstream base URL, made on first use."""

    def __init__(self, *, max_requests: int, max_age_s: float, connect_timeout_s: float):
        self.max_requests = max_requests
        self.max_age_s = max_age_s
        self.connect_timeout_s = connect_timeout_s
        self._replicas: dict[URL, Replica] = {}

    def replica(self, base: URL) -> Replica:
        replica = self._replicas.get(base)
        if replica is None:
            replica = self._replicas[base] = Replica(
                base,
                max_requests=self.max_requests,
                max_age_s=self.max_age_s,
                connect_timeout_s=self.connect_timeout_s,
            )
        return replica

    def close(self) -> None:
        for replica in self._replicas.values():
            replica.close()


async def exchange(
    connection: Connection, head: bytes, body: bytes, *, head_only: bool, read_timeout: float
) -> tuple[RawResponseMessage, StreamReader]:
    """Send one request (its head and body, already serialised) and read the answer's status
    line and headers; the body is then read from the returned stream. An interim answer
    (``100 Continue``) is read past."""
    protocol = connection.protocol
    protocol.set_response_params(
        skip_payload=head_only,
        auto_decompress=False,
        read_timeout=read_timeout,
        read_bufsize=READ_BUFFER,
    )
    transport = protocol.transport
    assert transport is not None, "a connection handed out is connected"
    transport.write(head + body if body else head)
    protocol.start_timeout()
    while True:
        message, payload = await protocol.read()
        if not 100 <= message.code < 200 or message.code == 101:
            return message, payload
