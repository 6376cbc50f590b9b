"""The deliverer: claims due deliveries, attempts them, records the outcomes in batches.

* Claims (db/deliveries.py) take due deliveries for a lease, endpoints in turn, at most
  ``WEBHOOK_ENDPOINT_CONCURRENCY`` of one endpoint at a time and as many as there is room
  for (``WEBHOOK_CONCURRENCY`` held by this replica); an endpoint whose share is taken is
  left out of the next claim. Replicas never hold the same delivery at once.
* An attempt starts only while its claim has a whole timeout left (it may have waited for
  its endpoint's turn); one that cannot is given back unattempted. So no other replica
  can attempt it at the same time.
* Outcomes are recorded by one flusher, a batch per transaction (usecases/outcomes.py),
  as they come: while one batch is written, the next gathers.
* The loop wakes when this process queued deliveries (DELIVERIES_QUEUED), when an
  endpoint's share frees up, or every ``WEBHOOK_POLL_S`` (retries that fell due, work
  queued by other replicas).
* Stopping cancels the attempts in flight: a claim neither recorded nor given back lapses
  with its lease and is attempted again (at least once); the receiver de-duplicates by
  the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from aiohttp import ClientSession, web
from coupon_core import metrics as families
from coupon_core.keys import METRICS, PG_POOL
from coupon_core.lifecycle import check_stopping
from coupon_core.metrics import Metrics
from prometheus_client import Counter as CounterMetric
from prometheus_client import Histogram

from webhook_service.db import deliveries as deliveries_db
from webhook_service.db.deliveries import Claim, Finished
from webhook_service.domain import schedule, signing
from webhook_service.domain.addresses import Policy
from webhook_service.keys import DELIVERIES_QUEUED, SETTINGS
from webhook_service.settings import Settings
from webhook_service.usecases import outcomes
from webhook_service.workers import client

log = logging.getLogger(__name__)

# After a wake-up found nothing, look once more this soon: the fan-out wakes the deliverer
# from inside its transaction, which may commit a moment after the first look.
SETTLE_S = 0.02
# Outcomes written by one statement at most.
FLUSH_MAX = 1000


@dataclass(frozen=True, slots=True)
class DeliveryMetrics:
    outcomes: CounterMetric
    attempt: Histogram
    lag: Histogram

    @classmethod
    def of(cls, metrics: Metrics) -> DeliveryMetrics:
        return cls(
            outcomes=metrics.counter(families.WEBHOOK_DELIVERIES),
            attempt=metrics.histogram(families.WEBHOOK_ATTEMPT),
            lag=metrics.histogram(families.WEBHOOK_LAG),
        )


@dataclass(frozen=True, slots=True)
class Held:
    """A claim, and the monotonic time it was asked for (its lease runs from before then)."""

    claim: Claim
    since: float

    def db_time(self, moment: float) -> datetime:
        """The database's time at ``moment`` (monotonic), reckoned from the claim's."""
        return self.claim.claimed_at + timedelta(seconds=moment - self.since)


class Deliverer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        metrics: DeliveryMetrics,
        queued: asyncio.Event,
        session: ClientSession,
    ) -> None:
        self.pool, self.settings, self.metrics = pool, settings, metrics
        self.queued, self.session = queued, session
        self.policy = Policy.of(settings)
        self.lease = schedule.lease(settings.webhook_timeout_s)
        self.share = settings.webhook_endpoint_concurrency
        self.tasks: set[asyncio.Task[None]] = set()
        self.held: Counter[int] = Counter()  # claims held per endpoint (attempted or waiting)
        self.turns: dict[int, asyncio.Semaphore] = {}  # attempts in flight per endpoint
        self.finished: list[Finished] = []
        self.released: list[Claim] = []
        self.to_record = asyncio.Event()
        self.last_endpoint = 0

    async def run(self) -> None:
        recorder = asyncio.create_task(self._record_forever(), name="webhook-recorder")
        try:
            await self._claim_forever()
        finally:
            for task in (*self.tasks, recorder):
                task.cancel()
            await asyncio.gather(*self.tasks, recorder, return_exceptions=True)
            await self._last_flush()

    async def _claim_forever(self) -> None:
        settle = False
        while True:
            check_stopping()
            room = min(
                self.settings.webhook_concurrency - len(self.tasks),
                self.settings.webhook_claim_batch,
            )
            claimed = 0
            if room > 0:
                self.queued.clear()
                claimed = await self._claim(room)
                if claimed == room:
                    continue  # more may be due
            timeout = SETTLE_S if settle and not claimed else self.settings.webhook_poll_s
            settle = await self._woken_within(timeout)

    async def _woken_within(self, seconds: float) -> bool:
        """Wait for a wake-up, at most ``seconds``; True when woken."""
        with contextlib.suppress(TimeoutError):
            # asyncio.timeout, not wait_for: on 3.11 wait_for can lose a cancellation.
            async with asyncio.timeout(seconds):
                await self.queued.wait()
                return True
        return False

    async def _claim(self, room: int) -> int:
        since = time.monotonic()
        busy = [endpoint for endpoint, held in self.held.items() if held >= self.share]
        try:
            async with self.pool.acquire() as conn:
                claims = await deliveries_db.claim(
                    conn,
                    limit=room,
                    per_endpoint=self.share,
                    lease=self.lease,
                    busy=busy,
                    after_endpoint=self.last_endpoint,
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            check_stopping()
            log.warning("claiming webhook deliveries: %r; retrying", exc)
            return 0
        served = {claim.endpoint_id for claim in claims}
        wrapped = [endpoint for endpoint in served if endpoint <= self.last_endpoint]
        self.last_endpoint = max(wrapped or served or [0])
        for claim in claims:
            self._start(Held(claim, since))
        return len(claims)

    def _start(self, held: Held) -> None:
        endpoint = held.claim.endpoint_id
        self.held[endpoint] += 1
        task = asyncio.create_task(self._deliver(held))
        self.tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.held[endpoint] -= 1
            if self.held[endpoint] <= 0:
                del self.held[endpoint]
                self.turns.pop(endpoint, None)
            # The endpoint's share, or this replica's room, just opened: claim again.
            if self.held.get(endpoint, 0) == self.share - 1 or (
                len(self.tasks) == self.settings.webhook_concurrency - 1
            ):
                self.queued.set()
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("webhook delivery %d failed", held.claim.delivery_id, exc_info=exc)

        task.add_done_callback(done)

    async def _deliver(self, held: Held) -> None:
        claim, settings = held.claim, self.settings
        turn = self.turns.setdefault(claim.endpoint_id, asyncio.Semaphore(self.share))
        try:
            await turn.acquire()
        except asyncio.CancelledError:
            self.released.append(claim)  # stopping before its turn: given back, not lapsed
            raise
        try:
            started = time.monotonic()
            lease_left = held.since + self.lease.total_seconds() - started
            if not schedule.may_start(lease_left, settings.webhook_timeout_s):
                self.released.append(claim)  # the lease could lapse mid-attempt
                self.to_record.set()
                return
            headers = signing.headers(
                claim.secrets, msg_id=claim.event_id, timestamp=int(time.time()), body=claim.body
            )
            answer = await client.attempt(
                self.session,
                self.policy,
                url=claim.url,
                headers=headers,
                body=claim.body,
                max_bytes=settings.webhook_response_max_bytes,
                timeout_s=settings.webhook_timeout_s,
            )
        finally:
            turn.release()
        ended = held.db_time(time.monotonic())
        self.finished.append(self._finished(held, held.db_time(started), ended, answer))
        self.to_record.set()

    def _finished(
        self, held: Held, attempted_at: datetime, ended: datetime, answer: client.Answer
    ) -> Finished:
        claim, settings = held.claim, self.settings
        self.metrics.outcomes.labels(outcome=answer.outcome).inc()
        self.metrics.attempt.observe(answer.seconds)
        next_at: datetime | None = None
        if answer.outcome == client.DELIVERED:
            status = "delivered"
            self.metrics.lag.observe(max(0.0, (ended - claim.occurred_at).total_seconds()))
        else:
            next_at = schedule.next_attempt(
                attempts=claim.attempts,
                first_attempt_at=claim.first_attempt_at or claim.claimed_at,
                now=ended,
                retry_window=settings.retry_window,
                base_s=settings.webhook_retry_base_s,
                max_delay_s=settings.webhook_retry_max_delay_s,
            )
            status = "pending" if next_at is not None else "failed"
            if next_at is None:
                self.metrics.outcomes.labels(outcome="failed").inc()
        return Finished(
            claim=claim,
            attempted_at=attempted_at,
            outcome=answer.outcome,
            http_status=answer.http_status,
            latency_ms=answer.seconds * 1000.0,
            response_head=answer.response_head,
            error=answer.error,
            status=status,
            next_attempt_at=next_at,
        )

    async def _record_forever(self) -> None:
        while True:
            await self.to_record.wait()
            self.to_record.clear()
            try:
                await self._flush()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                check_stopping()
                log.warning("recording webhook outcomes: %r; retrying", exc)
                await asyncio.sleep(self.settings.webhook_poll_s)
                self.to_record.set()

    async def _flush(self) -> None:
        batch, self.finished = self.finished[:FLUSH_MAX], self.finished[FLUSH_MAX:]
        released, self.released = self.released, []
        if self.finished:
            self.to_record.set()
        if not batch and not released:
            return
        try:
            result = await outcomes.record(self.pool, batch, released, settings=self.settings)
        except BaseException:
            # Kept for the next flush; a finisher whose claim lapsed meanwhile changes nothing.
            self.finished[:0], self.released[:0] = batch, released
            raise
        if result.notices or released:
            self.queued.set()

    async def _last_flush(self) -> None:
        """On the way out: what finished is recorded if that can be done at once; what
        was not is left to lapse."""
        try:
            async with asyncio.timeout(1.0):
                while self.finished or self.released:
                    await self._flush()
        except (asyncio.CancelledError, Exception) as exc:
            log.warning("webhook outcomes not recorded on stopping (they lapse): %r", exc)


async def deliver(app: web.Application) -> None:
    """The deliverer of this replica (a background task for the app's lifetime)."""
    async with client.open_session(app[SETTINGS]) as session:
        deliverer = Deliverer(
            app[PG_POOL],
            app[SETTINGS],
            DeliveryMetrics.of(app[METRICS]),
            app[DELIVERIES_QUEUED],
            session,
        )
        await deliverer.run()


async def delivery_gauges(app: web.Application) -> None:
    """Scrape hook: pending deliveries, those waiting for a retry, disabled endpoints."""
    async with app[PG_POOL].acquire(timeout=2.0) as conn:
        pending, retrying, disabled = await deliveries_db.gauges(conn)
    metrics = app[METRICS]
    metrics.gauge(families.WEBHOOK_PENDING).set(pending)
    metrics.gauge(families.WEBHOOK_RETRY_QUEUE).set(retrying)
    metrics.gauge(families.WEBHOOK_ENDPOINTS_DISABLED).set(disabled)
