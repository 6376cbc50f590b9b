"""A webhook receiver on loopback for the end-to-end tests: a real aiohttp server that
records every request it gets and answers as a test tells it to, per path.

Its port is reserved for as long as it lives (coupon_dev.ports.reserve_port): while it is
stopped, connections are refused, as they are by a receiver that is down, and nobody else can
take the port before it comes back. Verification is never done here: the tests verify what
it recorded with the independent ``standardwebhooks`` package.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from coupon_dev.ports import reserve_port
from standardwebhooks.webhooks import Webhook

# The status recorded for a request whose sender hung up before it was answered.
CLIENT_GONE = 499


@dataclass(frozen=True)
class Delivery:
    """One request as it arrived, and how it was answered (times: ``time.time()``)."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int
    started: float
    finished: float

    @property
    def event_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Behaviour:
    """How a path answers: ``status``, but ``failures`` times 500 first for every event id,
    each answer after ``delay_s`` (an endpoint that is slow to answer)."""

    status: int = 200
    failures: int = 0
    delay_s: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.behaviours: dict[str, Behaviour] = {}
        # The most requests of one event id in flight at once, at any path.
        self.max_overlap = 0
        self._in_flight: Counter[str] = Counter()
        self._seen: Counter[tuple[str, str]] = Counter()
        self._runner: web.AppRunner | None = None
        self._reservation = reserve_port()
        self.port = int(self._reservation.getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.path == path]

    @property
    def in_flight(self) -> int:
        return sum(self._in_flight.values())

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_port=True).start()

    async def stop(self) -> None:
        """Stops listening: from now on connections are refused."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        await self.stop()
        self._reservation.close()

    async def _handle(self, request: web.Request) -> web.Response:
        started = time.time()
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        event_id = headers.get("webhook-id", "")
        behaviour = self.behaviours.get(request.path, Behaviour())
        seen = self._seen[(request.path, event_id)]
        self._seen[(request.path, event_id)] += 1
        status = 500 if seen < behaviour.failures else behaviour.status
        self._in_flight[event_id] += 1
        self.max_overlap = max(self.max_overlap, self._in_flight[event_id])
        try:
            if behaviour.delay_s:
                await asyncio.sleep(behaviour.delay_s)  # the endpoint's own slowness
        finally:
            self._in_flight[event_id] -= 1
        if request.transport is None or request.transport.is_closing():
            # The sender went away before the answer: as if this receiver had never
            # finished with it (the sender cannot know that it did).
            status = CLIENT_GONE
        self.deliveries.append(Delivery(request.path, headers, body, status, started, time.time()))
        return web.Response(status=status, text="ok" if status < 300 else "failing on purpose")


class Inbox:
    """The events one endpoint (a path of a receiver) got from now on, each delivery
    verified once with the endpoint's secret by ``standardwebhooks`` as it is read."""

    def __init__(self, receiver: Receiver, path: str, secret: str) -> None:
        self.receiver, self.path, self.secret = receiver, path, secret
        self._verified: list[tuple[Delivery, dict[str, Any]]] = []
        self._read = len(receiver.deliveries)

    def deliveries(self) -> list[tuple[Delivery, dict[str, Any]]]:
        """Every delivery so far (failed answers and duplicates included) with its event."""
        new = self.receiver.deliveries[self._read :]
        self._read += len(new)
        for delivery in new:
            if delivery.path == self.path:
                self._verified.append((delivery, verify(delivery, self.secret)))
        return list(self._verified)

    def accepted(self) -> dict[str, dict[str, Any]]:
        """The events answered with a 2xx, by event id (duplicates collapse)."""
        return {e["id"]: e for d, e in self.deliveries() if d.status < 300}

    def matching(self, kind: str, **data: Any) -> list[dict[str, Any]]:
        """Accepted events of type ``kind`` whose ``data`` has these values."""
        return [
            e
            for e in self.accepted().values()
            if e["type"] == kind and all(_same(e["data"].get(k), v) for k, v in data.items())
        ]


def _same(got: Any, expected: Any) -> bool:
    """Ids compare as text: an id is the same whether a body writes it as 12 or "12"."""
    if got is None or expected is None or isinstance(expected, bool):
        return got is expected
    return str(got) == str(expected)


def verify(delivery: Delivery, secret: str) -> dict[str, Any]:
    """The event of a delivery, verified with ``standardwebhooks`` (raises if it does not
    verify), its id checked against the ``webhook-id`` header."""
    event: dict[str, Any] = Webhook(secret).verify(delivery.body, delivery.headers)
    assert event == json.loads(delivery.body)
    assert event["id"] == delivery.event_id, (event["id"], delivery.headers)
    return event
