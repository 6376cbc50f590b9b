"""The deliverer's HTTP client, and one attempt with it.

The client connects only to addresses :mod:`webhook_service.domain.addresses` allows: a host
name is resolved by :class:`SafeResolver`, which refuses the whole name when any of its
addresses may not be reached, so the connection goes only to addresses that were checked
(a name whose DNS changed since the endpoint was made is caught). A literal address in the
URL is checked before the request (aiohttp does not resolve it). Redirects are not
followed, the attempt's total time is bounded, at most ``WEBHOOK_RESPONSE_MAX_BYTES`` of an
answer is read before hanging up, no cookie is kept and no proxy from the environment used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass

from aiohttp import (
    ClientConnectorError,
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    DummyCookieJar,
    TCPConnector,
)
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from webhook_service.domain.addresses import (
    Policy,
    UnsafeAddress,
    UnsafeUrl,
    check_address,
    parse,
)
from webhook_service.settings import Settings

# The first bytes of an answer kept in the attempt log, as text.
HEAD_BYTES = 1024
_CHUNK = 16_384

DELIVERED, HTTP_ERROR, TIMEOUT, REFUSED, NETWORK_ERROR = (
    "delivered",
    "http_error",
    "timeout",
    "refused",
    "network_error",
)


class SafeResolver(AbstractResolver):
    """The system's resolver, refusing a name any of whose addresses may not be reached."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        for entry in found:
            address = ipaddress.ip_address(entry["host"].split("%", 1)[0])
            check_address(address, self._policy, host=host, literal=False)
        return found

    async def close(self) -> None:
        await self._resolver.close()


def open_session(settings: Settings) -> ClientSession:
    """The deliverer's session (call within the running loop; close it when done)."""
    connector = TCPConnector(
        resolver=SafeResolver(Policy.of(settings)),
        limit=settings.webhook_concurrency,
        limit_per_host=0,  # the deliverer bounds each endpoint itself
    )
    return ClientSession(
        connector=connector,
        timeout=ClientTimeout(total=settings.webhook_timeout_s),
        cookie_jar=DummyCookieJar(),
        # What is read of an answer is capped as it arrives: no inflating it first.
        auto_decompress=False,
        headers={"Accept-Encoding": "identity"},
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: str  # delivered | http_error | timeout | refused | network_error
    http_status: int | None
    response_head: str
    error: str | None
    seconds: float


async def _read_head(response: ClientResponse, max_bytes: int) -> str:
    """Read at most ``max_bytes`` of the body (hanging up on the rest); its first
    ``HEAD_BYTES``, as text."""
    head = bytearray()
    read = 0
    while read < max_bytes:
        chunk = await response.content.read(min(_CHUNK, max_bytes - read))
        if not chunk:
            break
        read += len(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
    if not response.content.at_eof():
        response.close()  # the connection is dropped, not drained
    # PostgreSQL text holds no NUL.
    return head.decode("utf-8", "replace").replace("\x00", "")


async def attempt(
    session: ClientSession,
    policy: Policy,
    *,
    url: str,
    headers: dict[str, str],
    body: bytes,
    max_bytes: int,
    timeout_s: float,
) -> Answer:
    """POST ``body`` to ``url`` once: a 2xx answer is delivered, anything else a failure."""
    started = time.monotonic()

    def answer(outcome: str, status: int | None, head: str, error: str | None) -> Answer:
        return Answer(outcome, status, head, error, time.monotonic() - started)

    try:
        # Checked again at each attempt: the settings may have changed since it was made.
        parse(url, policy)
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            head = await _read_head(resp, max_bytes)
            status = resp.status
    except UnsafeUrl as exc:
        return answer(REFUSED, None, "", exc.message)
    except TimeoutError:
        return answer(TIMEOUT, None, "", f"no complete answer within {timeout_s:g} s")
    except ClientConnectorError as exc:
        if isinstance(exc.os_error, UnsafeAddress):
            return answer(REFUSED, None, "", str(exc.os_error))
        return answer(NETWORK_ERROR, None, "", _describe(exc))
    except (ClientError, OSError, asyncio.IncompleteReadError) as exc:
        return answer(NETWORK_ERROR, None, "", _describe(exc))
    outcome = DELIVERED if 200 <= status < 300 else HTTP_ERROR
    return answer(outcome, status, head, None)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
