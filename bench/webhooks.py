"""Webhook delivery under load (issue 19), on the stack ``make bench`` starts: an endpoint
subscribed to ``coupon.redeemed`` at a receiver on loopback (an aiohttp app on a thread of
this process, answering 200 at once), and redeems of spread coupons through the gateway.

* Deliveries per second: the webhook-service is stopped while redeems run at full speed,
  then started again; the receiver times the backlog arriving (first to last delivery).
* End-to-end lag while redeems run at 70 % of the redeem peak measured in the same run:
  redeem committed → webhook received, measured at the receiver as its clock at arrival
  minus the event's ``timestamp`` (the outbox row's ``now()``, the redeem transaction's
  start: the lag includes the commit, so it is an upper bound). p50/p99 against the 1 s goal;
  deliveries/s against redeems/s while the load runs; the backlog left when it stops and how
  long it takes to drain.

    python -m bench webhooks [--seconds 4] [--rounds 2]

Bounded: every load runs a fixed time, every wait has a deadline. Not a test.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import orjson
from aiohttp import web
from coupon_core.web import new_event_loop
from coupon_dev.ports import reserve_port
from coupon_dev.stack import Stack

from bench.cases import CONNECTIONS, Case, _api
from bench.load import LoadResult, run_load

# The bench stack's webhook-service may call the receiver over http on loopback.
STACK_ENV = {
    "WEBHOOK_ALLOW_HTTP_LOOPBACK": "true",
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
}
LAG_GOAL_S = 1.0
QUIET_S = 2.0  # the backlog is drained: everything expected arrived, then nothing for this
DRAIN_LIMIT_S = 180.0


@dataclass(frozen=True)
class Arrival:
    at: float  # time.time() at the receiver
    event_id: str
    timestamp: str  # the event's own time (ISO 8601)

    @property
    def lag_s(self) -> float:
        return self.at - datetime.fromisoformat(self.timestamp.replace("Z", "+00:00")).timestamp()


class Receiver:
    """An aiohttp app on a thread of its own (uvloop, as the services run), recording every
    delivery's arrival and answering 200 at once."""

    def __init__(self) -> None:
        self._reservation = reserve_port()
        self.port = int(self._reservation.getsockname()[1])
        self.arrivals: list[Arrival] = []
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the webhook receiver did not start within 30 s")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._reservation.close()

    def since(self, mark: int) -> list[Arrival]:
        return self.arrivals[mark:]

    def _run(self) -> None:
        self._loop = new_event_loop()
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_port=True).start()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        at = time.time()
        event = orjson.loads(body)
        self.arrivals.append(Arrival(at, event["id"], event["timestamp"]))
        return web.Response(text="ok")


def wait_drained(receiver: Receiver, mark: int, expected: int) -> list[Arrival]:
    """The arrivals since ``mark`` once at least ``expected`` distinct events came and then
    nothing for QUIET_S (the load generator's last requests may add a few), or at the
    deadline with what came."""
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while time.monotonic() < deadline:
        arrivals = receiver.since(mark)
        quiet = not arrivals or time.time() - arrivals[-1].at >= QUIET_S
        if quiet and len({a.event_id for a in arrivals}) >= expected:
            break
        time.sleep(0.1)  # polling the receiver's record, with a deadline
    return receiver.since(mark)


def _redeem(wrk: str | None, spread: Case, seconds: float, rate: float | None) -> LoadResult:
    return run_load(
        wrk,
        spread.url,
        seconds=seconds,
        connections=CONNECTIONS if rate is None else 16,
        headers=spread.headers,
        rate=rate,
        method=spread.method,
        body=spread.body,
        lua=spread.lua,
    )


@dataclass
class Drain:
    redeems: int
    delivered: int
    seconds: float  # first to last arrival
    restart_s: float  # the webhook-service started again → its first delivery

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


def drain(stack: Stack, wrk: str | None, spread: Case, receiver: Receiver, seconds: float) -> Drain:
    """Redeems at full speed while the webhook-service is stopped, then the backlog."""
    webhooks = stack.services["webhook"]
    for process in webhooks:
        process.stop()
    mark = len(receiver.arrivals)
    load = _redeem(wrk, spread, seconds, None)
    for process in webhooks:
        process.start()
    started = time.time()
    for process in webhooks:
        process.wait_ready()
    arrivals = wait_drained(receiver, mark, load.requests - load.errors)
    if not arrivals:
        return Drain(load.requests - load.errors, 0, 0.0, 0.0)
    return Drain(
        load.requests - load.errors,
        len({a.event_id for a in arrivals}),
        arrivals[-1].at - arrivals[0].at,
        arrivals[0].at - started,
    )


@dataclass
class Lag:
    load: LoadResult
    during: int  # distinct events that arrived while the load ran
    delivered: int  # distinct events in all
    duplicates: int
    backlog: int  # redeems acknowledged by the end of the load, not delivered by then
    drain_s: float  # the end of the load → the last arrival
    p50_s: float
    p99_s: float
    max_s: float


def lag(wrk: str | None, spread: Case, receiver: Receiver, seconds: float, rate: float) -> Lag:
    """Redeems at ``rate`` for ``seconds``; every delivery's lag."""
    mark = len(receiver.arrivals)
    load = _redeem(wrk, spread, seconds, rate)
    ended = time.time()
    during = len({a.event_id for a in receiver.since(mark) if a.at <= ended})
    redeemed = load.requests - load.errors
    arrivals = wait_drained(receiver, mark, redeemed)
    lags = sorted(a.lag_s for a in arrivals) or [float("nan")]
    distinct = len({a.event_id for a in arrivals})
    return Lag(
        load=load,
        during=during,
        delivered=distinct,
        duplicates=len(arrivals) - distinct,
        backlog=max(0, redeemed - during),
        drain_s=max(0.0, arrivals[-1].at - ended) if arrivals else float("nan"),
        p50_s=statistics.median(lags),
        p99_s=lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        max_s=lags[-1],
    )


def bench_webhooks(stack: Stack, wrk: str | None, spread: Case, seconds: float) -> list[str]:
    """The report's section; ``spread`` has its redeem peak measured in this run."""
    receiver = Receiver()
    receiver.start()
    endpoint = _api(
        stack,
        "POST",
        "/api/v1/webhooks",
        {"url": receiver.url, "events": ["coupon.redeemed"], "description": "bench"},
    )
    try:
        print("... webhooks: deliveries/s of a backlog", flush=True)
        backlog = drain(stack, wrk, spread, receiver, seconds)
        print(f"  {backlog.delivered} of {backlog.redeems} in {backlog.seconds:.1f} s", flush=True)
        rate = 0.7 * spread.rps
        print(f"... webhooks: lag with redeems at 70% ({rate:.0f} req/s)", flush=True)
        at70 = lag(wrk, spread, receiver, 2 * seconds, rate)
        print(f"  p50 {at70.p50_s * 1000:.0f} ms p99 {at70.p99_s * 1000:.0f} ms", flush=True)
    finally:
        _api(stack, "DELETE", f"/api/v1/webhooks/{endpoint['id']}")
        receiver.stop()
    return report(spread.rps, backlog, at70, len(stack.services["webhook"]))


def report(peak: float, backlog: Drain, at70: Lag, replicas: int) -> list[str]:
    """The section's table; "keeps up" when the backlog drains at least as fast as the
    redeem peak and every redeem made at 70 % was delivered."""
    load = at70.load
    redeem_rate = load.rps
    delivery_rate = at70.during / load.seconds if load.seconds else 0.0
    keeps_up = backlog.rate >= peak and at70.delivered >= load.requests - load.errors
    return [
        f"One endpoint (coupon.redeemed) at a receiver on loopback, {replicas} webhook-service "
        "replica(s), redeems of spread coupons through the gateway (load by "
        f"{load.tool}). Lag: the receiver's clock at arrival minus the event's timestamp "
        "(the redeem transaction's start).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| redeem peak (this run) | {peak:.0f} req/s |",
        f"| deliveries/s, a backlog of {backlog.redeems} redeems made with the service "
        f"stopped | {backlog.rate:.0f} ({backlog.delivered} delivered in "
        f"{backlog.seconds:.1f} s; first {backlog.restart_s:.1f} s after the restart) |",
        f"| deliveries/s / redeem peak (goal ≥ 1) | {backlog.rate / peak:.2f} |",
        f"| redeems at 70 % of peak | asked {0.7 * peak:.0f} req/s, ran {redeem_rate:.0f} req/s "
        f"for {load.seconds:.0f} s: {load.requests} requests, {load.errors} errors |",
        f"| deliveries/s meanwhile | {delivery_rate:.0f} |",
        f"| backlog when the load stopped | {at70.backlog} events, drained "
        f"{at70.drain_s:.2f} s later |",
        f"| delivered / redeemed | {at70.delivered} / {load.requests - load.errors} "
        f"(duplicates {at70.duplicates}) |",
        f"| lag p50 / p99 / max at 70 % | {at70.p50_s * 1000:.0f} / {at70.p99_s * 1000:.0f} / "
        f"{at70.max_s * 1000:.0f} ms |",
        f"| lag p99 / goal (1 s; goal ≤ 1) | {at70.p99_s / LAG_GOAL_S:.2f} |",
        f"| the deliverer keeps up with the redeem peak | {'yes' if keeps_up else 'no'} |",
    ]
