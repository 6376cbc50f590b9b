"""The generation job runner: leases unfinished jobs and runs them batch by batch.

Progress is committed with each batch, so a job resumes where it stopped after a restart;
a stopping replica gives its lease back, a dead one's lease lapses after ``job_lease_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

import asyncpg
from aiohttp import web
from coupon_core.keys import METRICS, PG_POOL, REDIS
from coupon_core.lifecycle import check_stopping, stopping
from coupon_core.metrics import GENERATED_CODES, GENERATION_BACKLOG, GENERATION_JOBS, Metrics
from redis.asyncio import Redis
from redis.exceptions import RedisError

from promotion_service.db import jobs as job_db
from promotion_service.domain.models import GenerationJob
from promotion_service.keys import JOBS_QUEUED, SETTINGS
from promotion_service.settings import Settings
from promotion_service.usecases import generation, publish

log = logging.getLogger(__name__)

TRANSIENT = (RedisError, OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


PENDING_CODES = (
    "SELECT coalesce(sum(total - done), 0) FROM generation_jobs "
    "WHERE state IN ('pending', 'running')"
)


async def pending_codes(app: web.Application) -> None:
    """Scrape hook: codes that unfinished jobs still have to write."""
    pending = await app[PG_POOL].fetchval(PENDING_CODES, timeout=2.0)
    app[METRICS].gauge(GENERATION_BACKLOG).set(float(pending))


async def _run(
    pool: asyncpg.Pool,
    redis: Redis,
    job: GenerationJob,
    *,
    owner: str,
    settings: Settings,
    metrics: Metrics,
) -> None:
    if job.done > 0:
        # Resumed: the facts of the last committed batch may not have reached Redis.
        await publish.coupons_from_db(
            pool, redis, batch_size=settings.facts_batch_size, job_id=job.id
        )
        log.info("resuming generation job %d at %d of %d", job.id, job.done, job.total)
    done = await generation.run_job(
        pool,
        redis,
        job,
        owner=owner,
        lease_s=settings.job_lease_s,
        batch_size=settings.generation_batch_size,
    )
    log.info("generation job %d stopped at %s of %d", job.id, done, job.total)
    if done is not None:
        metrics.counter(GENERATED_CODES).inc(max(done - job.done, 0))
        if done >= job.total:
            metrics.counter(GENERATION_JOBS).labels(state="done").inc()


async def run_jobs(app: web.Application) -> None:
    pool, redis, settings, metrics = app[PG_POOL], app[REDIS], app[SETTINGS], app[METRICS]
    queued = app[JOBS_QUEUED]
    owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    while True:
        check_stopping()
        job: GenerationJob | None = None
        try:
            async with pool.acquire() as conn:
                job = await job_db.lease_next(conn, owner=owner, lease_s=settings.job_lease_s)
            if job is None:
                queued.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can lose a cancellation
                # that arrives as its timeout fires, and this loop would then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.job_poll_s):
                        await queued.wait()
                check_stopping()
                continue
            await _run(pool, redis, job, owner=owner, settings=settings, metrics=metrics)
            await _give_back(pool, job.id, owner)  # a no-op unless it stopped being ours
        except asyncio.CancelledError:
            if job is not None:
                await _give_back(pool, job.id, owner)
            raise
        except TRANSIENT as exc:
            if job is not None:
                await _give_back(pool, job.id, owner)
            check_stopping()
            log.warning("generation job runner: %r; retrying", exc)
            await asyncio.sleep(settings.job_poll_s)
        except Exception as exc:
            if job is not None and stopping():
                await _give_back(pool, job.id, owner)
            check_stopping()
            if job is None:
                log.warning("generation job runner: %r; retrying", exc)
            else:
                log.exception("generation job %d failed", job.id)
                async with pool.acquire() as conn:
                    ended = await job_db.fail(conn, job.id, f"{type(exc).__name__}: {exc}"[:500])
                if ended:
                    metrics.counter(GENERATION_JOBS).labels(state="failed").inc()
            await asyncio.sleep(settings.job_poll_s)


async def _give_back(pool: asyncpg.Pool, job_id: int, owner: str) -> None:
    try:
        async with pool.acquire() as conn:
            await job_db.release(conn, job_id, owner=owner)
    except (*TRANSIENT, asyncpg.PostgresError) as exc:
        log.warning("could not release generation job %d: %r", job_id, exc)
