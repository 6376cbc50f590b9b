"""Retention: past-retention rows leave in bounded batches, the rest stays; one replica runs
a pass at a time; a failing job is counted and does not stop the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from coupon_core import events, idempotency, retention
from coupon_core.lifecycle import open_postgres_pool
from coupon_core.metrics import Metrics
from coupon_core.migrations import apply_migrations
from coupon_core.settings import OUTBOX_RETENTION_FLOOR_H, RetentionSettings
from pydantic import ValidationError

# A service whose migrations create outbox, processed_events and idempotency_keys.
MIGRATIONS = Path(__file__).resolve().parents[2] / "issuance-service" / "migrations"
DAY = timedelta(hours=24)
SERVICE = "issuance-service"


def _settings(database_url: str, redis_url: str, **overrides: Any) -> RetentionSettings:
    return RetentionSettings(
        database_url=database_url,
        redis_url=redis_url,
        identity_secret="test-identity-secret-retention",
        environment="test",
        **overrides,
    )


@pytest.fixture
async def pools(database_url: str, redis_url: str) -> AsyncIterator[list[asyncpg.Pool]]:
    """Two pools on one migrated database: two replicas of a service."""
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, MIGRATIONS, service=SERVICE)
    finally:
        await conn.close()
    settings = _settings(database_url, redis_url)
    opened: list[asyncpg.Pool] = [
        await open_postgres_pool(settings, reset_marked_only=True) for _ in range(2)
    ]
    yield opened
    for pool in opened:
        await pool.close()


@pytest.fixture
def pool(pools: list[asyncpg.Pool]) -> asyncpg.Pool:
    return pools[0]


async def _outbox(pool: asyncpg.Pool, count: int, *, age: timedelta, published: bool) -> None:
    await pool.execute(
        "INSERT INTO outbox (stream, event_type, payload, created_at, published_at) "
        "SELECT 'events:issuance', 'coupon.issued', '{}'::jsonb, now() - $2::interval, "
        "CASE WHEN $3 THEN now() END FROM generate_series(1, $1)",
        count,
        age,
        published,
    )


async def _processed(pool: asyncpg.Pool, count: int, *, age: timedelta, tag: str) -> None:
    await pool.execute(
        "INSERT INTO processed_events (consumer, event_id, processed_at) "
        "SELECT 'issuance', $3 || n, now() - $2::interval FROM generate_series(1, $1) n",
        count,
        age,
        tag,
    )


async def _keys(
    pool: asyncpg.Pool, count: int, *, age: timedelta, completed: bool, tag: str
) -> None:
    await pool.execute(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at, "
        "completed_at) SELECT 'issue', $3 || n, 'h', CASE WHEN $4 THEN 200 END, "
        "now() - $2::interval, CASE WHEN $4 THEN now() - $2::interval END "
        "FROM generate_series(1, $1) n",
        count,
        age,
        tag,
        completed,
    )


def _jobs(pool: asyncpg.Pool) -> list[retention.Job]:
    return [
        retention.outbox_job(pool, 3 * DAY),
        retention.processed_events_job(pool, 3 * DAY),
        retention.idempotency_keys_job(pool, DAY),
    ]


def _sample(metrics: Metrics, name: str, job: str | None = None) -> float | None:
    return metrics.registry.get_sample_value(name, {"task": job} if job else {})


async def test_a_pass_removes_what_is_past_retention_in_bounded_batches(
    pool: asyncpg.Pool,
) -> None:
    await _outbox(pool, 12, age=4 * DAY, published=True)
    await _outbox(pool, 3, age=2 * DAY, published=True)
    await _outbox(pool, 4, age=5 * DAY, published=False)
    await _processed(pool, 7, age=4 * DAY, tag="old")
    await _processed(pool, 2, age=DAY, tag="new")
    await _keys(pool, 5, age=2 * DAY, completed=True, tag="done")
    await _keys(pool, 2, age=2 * DAY, completed=False, tag="crashed")
    await _keys(pool, 3, age=timedelta(hours=1), completed=True, tag="recent")
    registry = Metrics(SERVICE)
    metrics = retention.RetentionMetrics(registry)
    steps: dict[str, list[int]] = {}

    def recorded(job: retention.Job) -> retention.Job:
        async def step(limit: int) -> int:
            removed = await job.step(limit)
            steps.setdefault(job.name, []).append(removed)
            return removed

        return retention.Job(name=job.name, step=step, lag=job.lag)

    jobs = _jobs(pool)
    assert jobs[0].lag is not None
    assert await jobs[0].lag() > DAY.total_seconds() - 60  # four days old, kept three

    ran = await retention.run_pass(
        pool,
        [recorded(job) for job in jobs],
        service=SERVICE,
        batch=5,
        pause_s=0,
        metrics=metrics,
    )

    assert ran
    assert steps == {"outbox": [5, 5, 2], "processed_events": [5, 2], "idempotency_keys": [5, 2]}
    outbox = await pool.fetch(
        "SELECT published_at IS NOT NULL AS published, count(*) AS n FROM outbox GROUP BY 1"
    )
    assert {row["published"]: row["n"] for row in outbox} == {True: 3, False: 4}
    assert await pool.fetchval("SELECT array_agg(event_id LIKE 'new%') FROM processed_events") == [
        True,
        True,
    ]
    assert (
        await pool.fetchval("SELECT array_agg(key LIKE 'recent%') FROM idempotency_keys")
        == [True] * 3
    )
    assert _sample(registry, "retention_removed_total", "outbox") == 12
    assert _sample(registry, "retention_removed_total", "processed_events") == 7
    assert _sample(registry, "retention_removed_total", "idempotency_keys") == 7
    for job in ("outbox", "processed_events", "idempotency_keys"):
        assert _sample(registry, "retention_lag_seconds", job) == 0
    assert (_sample(registry, "retention_last_pass_timestamp_seconds") or 0) > 0


async def test_each_delete_walks_an_index(pool: asyncpg.Pool) -> None:
    """With sequential scans priced out, each batch's candidates come from an index on
    their timestamp: the index exists and fits the query (sizes decide the rest)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        for delete, index in (
            (retention._DELETE_OUTBOX, "outbox_published_created"),
            (retention._DELETE_PROCESSED, "processed_events_processed_at"),
            (retention._DELETE_IDEMPOTENCY, "idempotency_keys_created"),
        ):
            plan = "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {delete}", 5000, 3 * DAY))
            assert f" on {index}" in plan or f" using {index}" in plan, plan
            assert "Seq Scan" not in plan, plan
            assert "Tid Scan" in plan, plan


async def test_only_one_replica_runs_a_pass_at_a_time(pools: list[asyncpg.Pool]) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()
    calls: list[str] = []

    async def slow(limit: int) -> int:
        calls.append("slow")
        inside.set()
        await release.wait()
        return 0

    async def quick(limit: int) -> int:
        calls.append("quick")
        return 0

    metrics = retention.RetentionMetrics(Metrics(SERVICE))
    first = asyncio.create_task(
        retention.run_pass(
            pools[0],
            [retention.Job("slow", slow)],
            service=SERVICE,
            batch=10,
            pause_s=0,
            metrics=metrics,
        )
    )
    await inside.wait()

    def second() -> Any:
        return retention.run_pass(
            pools[1],
            [retention.Job("quick", quick)],
            service=SERVICE,
            batch=10,
            pause_s=0,
            metrics=metrics,
        )

    assert not await second()
    assert calls == ["slow"]
    release.set()
    assert await first
    assert await second()
    assert calls == ["slow", "quick"]


async def test_a_pass_cancelled_midway_frees_the_lock(pools: list[asyncpg.Pool]) -> None:
    inside = asyncio.Event()

    async def endless(limit: int) -> int:
        inside.set()
        return limit  # always a full batch: the pass would go on for ever

    metrics = retention.RetentionMetrics(Metrics(SERVICE))
    task = asyncio.create_task(
        retention.run_pass(
            pools[0],
            [retention.Job("endless", endless)],
            service=SERVICE,
            batch=10,
            pause_s=0.01,
            metrics=metrics,
        )
    )
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await retention.run_pass(
        pools[1], [], service=SERVICE, batch=10, pause_s=0, metrics=metrics
    )


async def test_a_failing_job_is_counted_and_the_others_still_run(pool: asyncpg.Pool) -> None:
    await _outbox(pool, 3, age=4 * DAY, published=True)

    async def broken(limit: int) -> int:
        raise RuntimeError("disk on fire")

    async def broken_lag() -> float:
        raise RuntimeError("disk on fire")

    registry = Metrics(SERVICE)
    metrics = retention.RetentionMetrics(registry)
    jobs = [retention.Job("broken", broken, broken_lag), retention.outbox_job(pool, 3 * DAY)]

    assert await retention.run_pass(
        pool, jobs, service=SERVICE, batch=10, pause_s=0, metrics=metrics
    )

    assert _sample(registry, "retention_errors_total", "broken") == 2  # the step, the lag
    assert _sample(registry, "retention_removed_total", "outbox") == 3
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_begin_takes_over_a_key_only_past_the_retention_given(pool: asyncpg.Pool) -> None:
    await _keys(pool, 1, age=30 * timedelta(hours=1), completed=True, tag="k")

    kept = await idempotency.begin(
        pool, scope="issue", key="k1", fingerprint="h", retention=2 * DAY
    )
    assert kept is not None
    assert kept.status == 200
    taken = await idempotency.begin(pool, scope="issue", key="k1", fingerprint="h", retention=DAY)
    assert taken is None


def test_settings_refuse_a_retention_below_its_floor(database_url: str, redis_url: str) -> None:
    assert timedelta(hours=OUTBOX_RETENTION_FLOOR_H) == events.REPLAY_WINDOW
    defaults = _settings(database_url, redis_url)
    assert (defaults.outbox_retention_h, defaults.processed_events_retention_h) == (72, 72)
    assert (defaults.idempotency_retention_h, defaults.retention_batch) == (24, 1000)
    for bad in (
        {"outbox_retention_h": 23},
        {"idempotency_retention_h": 23},
        {"outbox_retention_h": 96, "processed_events_retention_h": 72},
        {"retention_batch": 0},
        {"db_pool_max_size": 1},
    ):
        with pytest.raises(ValidationError):
            _settings(database_url, redis_url, **bad)
