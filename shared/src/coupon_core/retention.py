"""Retention: what is past its retention is removed in bounded batches, in every service.

A service lists its :class:`Job` values in ``<package>/workers/retention.py`` and starts the
runner with :func:`install`. Every ``RETENTION_INTERVAL_S`` each replica tries a
session-level advisory lock; the one that gets it runs a pass, the others skip it. A pass
runs each job's ``step(RETENTION_BATCH)`` until it removes fewer than the batch, pausing
``RETENTION_PAUSE_S`` between batches, so no statement holds its locks for long and the
WAL it writes comes in small pieces. A job that fails is logged and counted; the others
still run. See docs/operations.md, "Retention".

The standard jobs (:func:`outbox_job`, :func:`processed_events_job`,
:func:`idempotency_keys_job`) each delete one batch with one statement: the batch's row
addresses are chosen through a btree on the row's timestamp (the shared migration
``shared_migrations/retention.sql``), and the ``DELETE`` reaches them by ``ctid``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiohttp import web

from coupon_core.db import mark_session_state
from coupon_core.keys import METRICS, PG_POOL
from coupon_core.lifecycle import background_task_ctx, check_stopping, every
from coupon_core.metrics import (
    RETENTION_ERRORS,
    RETENTION_LAG,
    RETENTION_LAST_PASS,
    RETENTION_REMOVED,
    Metrics,
)
from coupon_core.settings import RetentionPassSettings, RetentionSettings

log = logging.getLogger(__name__)

# Arbitrary constant namespace of the pass lock: (namespace, hash of the service name).
RETENTION_LOCK_NAMESPACE = 72_417


@dataclass(frozen=True, slots=True)
class Job:
    name: str  # metric label, e.g. "outbox"
    # step(limit): remove at most ``limit`` units past retention in one short transaction
    # (or one Redis round); return how many it removed.
    step: Callable[[int], Awaitable[int]]
    # Seconds the oldest unit past retention has been waiting (0 when none).
    lag: Callable[[], Awaitable[float]] | None = None


class RetentionMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.removed = metrics.counter(RETENTION_REMOVED)
        self.lag = metrics.gauge(RETENTION_LAG)
        self.errors = metrics.counter(RETENTION_ERRORS)
        self.last_pass = metrics.gauge(RETENTION_LAST_PASS)


async def _drain(job: Job, *, batch: int, pause_s: float, metrics: RetentionMetrics) -> int:
    """``job.step(batch)`` until a step removes fewer than ``batch``; returns the total."""
    total = 0
    while True:
        check_stopping()
        removed = await job.step(batch)
        total += removed
        metrics.removed.labels(job.name).inc(removed)
        if removed < batch:
            return total
        await asyncio.sleep(pause_s)


async def _measure_lag(jobs: list[Job], metrics: RetentionMetrics) -> None:
    for job in jobs:
        if job.lag is None:
            continue
        try:
            metrics.lag.labels(job.name).set(await job.lag())
        except asyncio.CancelledError:
            raise
        except Exception:
            check_stopping()
            metrics.errors.labels(job.name).inc()
            log.exception("retention lag of %s failed", job.name)


async def run_pass(
    pool: asyncpg.Pool,
    jobs: list[Job],
    *,
    service: str,
    batch: int,
    pause_s: float,
    metrics: RetentionMetrics,
) -> bool:
    """One pass over ``jobs`` if no other replica is running one; True when it ran.

    The lock is session-level, on a connection held for the pass: a replica that dies
    mid-pass loses its connection and with it the lock. The connection is marked, so the
    pool's reset on release unlocks it (``pg_advisory_unlock_all``) however the pass ends."""
    ran = False
    async with pool.acquire() as conn:
        mark_session_state(conn)
        locked = await conn.fetchval(
            "SELECT pg_try_advisory_lock($1, hashtext($2))", RETENTION_LOCK_NAMESPACE, service
        )
        if locked:
            ran = True
            for job in jobs:
                try:
                    removed = await _drain(job, batch=batch, pause_s=pause_s, metrics=metrics)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # asyncpg may surface a cancellation landing mid-query as a client error.
                    check_stopping()
                    metrics.errors.labels(job.name).inc()
                    log.exception("retention job %s failed; the others still run", job.name)
                    continue
                if removed:
                    log.info("retention job %s removed %d", job.name, removed)
            metrics.last_pass.set(time.time())
    await _measure_lag(jobs, metrics)
    return ran


def install(
    app: web.Application,
    settings: RetentionPassSettings,
    jobs: Callable[[web.Application], list[Job]],
    *,
    service: str,
) -> None:
    """Register the retention metrics and run :func:`run_pass` every
    ``RETENTION_INTERVAL_S`` for the app's lifetime. ``jobs(app)`` is called once the stores
    are open (the task starts after the pools). ``service`` names the lock: the service's
    fixed name, not ``SERVICE_NAME``, which replicas may set apart."""
    metrics = RetentionMetrics(app[METRICS])

    async def run(app: web.Application) -> None:
        listed = jobs(app)
        await every(
            settings.retention_interval_s,
            "retention",
            lambda: run_pass(
                app[PG_POOL],
                listed,
                service=service,
                batch=settings.retention_batch,
                pause_s=settings.retention_pause_s,
                metrics=metrics,
            ),
        )

    app.cleanup_ctx.append(background_task_ctx("retention", run))


# Standard jobs. ``$1``: the batch size; ``$2``: the retention, as an interval. Each query
# is composed here, once, from constant parts; nothing from outside goes into SQL text.
def delete_sql(table: str, past: str, order: str) -> str:
    """One batch: the addresses of up to ``$1`` rows past retention, read in index order,
    then a TID scan deletes them. The statement's snapshot keeps those addresses from
    being reused; a row updated meanwhile (an idempotency key taken over) has a new
    address, so the ``DELETE`` rechecks nothing and skips it."""
    return (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} "
        f"WHERE {past} ORDER BY {order} LIMIT $1))"
    )


def lag_sql(table: str, column: str, where: str = "") -> str:
    """Seconds the oldest row is past retention (``$1``), 0 when none is; the ``min``
    is one step down the same btree the delete uses."""
    return (
        "SELECT GREATEST(0, COALESCE(EXTRACT(EPOCH FROM "
        f"now() - $1::interval - min({column})), 0))::float8 FROM {table}{where}"
    )


_OUTBOX_PAST = "published_at IS NOT NULL AND created_at < now() - $2::interval"
_DELETE_OUTBOX = delete_sql("outbox", _OUTBOX_PAST, "created_at")
_OUTBOX_LAG = lag_sql("outbox", "created_at", " WHERE published_at IS NOT NULL")
_DELETE_PROCESSED = delete_sql(
    "processed_events", "processed_at < now() - $2::interval", "processed_at"
)
_PROCESSED_LAG = lag_sql("processed_events", "processed_at")
# Completed keys and in-flight ones alike: a request in flight that long has crashed.
_DELETE_IDEMPOTENCY = delete_sql(
    "idempotency_keys", "created_at < now() - $2::interval", "created_at"
)
_IDEMPOTENCY_LAG = lag_sql("idempotency_keys", "created_at")


def _deleted(status: str) -> int:
    """The row count of a ``DELETE n`` command status."""
    return int(status.rsplit(" ", 1)[-1])


def sql_job(name: str, pool: asyncpg.Pool, retention: timedelta, delete: str, lag: str) -> Job:
    """A job whose step runs ``delete`` (``$1``: batch size, ``$2``: retention) and whose
    lag is ``lag`` (``$1``: retention)."""

    async def step(limit: int) -> int:
        return _deleted(await pool.execute(delete, limit, retention))

    async def measure() -> float:
        return float(await pool.fetchval(lag, retention))

    return Job(name=name, step=step, lag=measure)


def outbox_job(pool: asyncpg.Pool, retention: timedelta) -> Job:
    """Published outbox rows created more than ``retention`` ago; never an unpublished one."""
    return sql_job("outbox", pool, retention, _DELETE_OUTBOX, _OUTBOX_LAG)


def processed_events_job(pool: asyncpg.Pool, retention: timedelta) -> Job:
    """Consumers' records of events processed more than ``retention`` ago."""
    return sql_job("processed_events", pool, retention, _DELETE_PROCESSED, _PROCESSED_LAG)


def idempotency_keys_job(pool: asyncpg.Pool, retention: timedelta) -> Job:
    """Idempotency keys created more than ``retention`` ago, completed or not."""
    return sql_job("idempotency_keys", pool, retention, _DELETE_IDEMPOTENCY, _IDEMPOTENCY_LAG)


def standard_jobs(
    pool: asyncpg.Pool, settings: RetentionSettings, *, idempotency_keys: bool
) -> list[Job]:
    """The outbox and processed_events jobs every service has, and the idempotency_keys
    job where the service keeps keys."""
    jobs = [
        outbox_job(pool, settings.outbox_retention),
        processed_events_job(pool, settings.processed_events_retention),
    ]
    if idempotency_keys:
        jobs.append(idempotency_keys_job(pool, settings.idempotency_retention))
    return jobs
