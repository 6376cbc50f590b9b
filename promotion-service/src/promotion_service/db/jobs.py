"""The generation_jobs table: parameters, lease and progress of each bulk generation."""

from __future__ import annotations

import asyncpg
from coupon_core import redis_keys
from coupon_core.db import Connection

from promotion_service.domain.models import CouponLimits, GenerationJob

STREAM = redis_keys.event_stream("promotion")
# The generation.completed event of every row of ``finished`` (a CTE of job columns: id,
# promotion_id, state, total, done), written by the statement that ends those jobs: a job
# ends once, so its event is written once, whichever replica ends it.
_COMPLETED = f"""
completed AS (
    INSERT INTO outbox (stream, event_type, payload)
    SELECT '{STREAM}', 'generation.completed', jsonb_build_object(
        'jobId', f.id::text, 'promotionCode', p.code, 'requested', f.total,
        'generated', f.done, 'status', f.state, 'completedAt', now())
    FROM finished f JOIN promotions p ON p.id = f.promotion_id ORDER BY f.id
)"""
_ENDED = "RETURNING id, promotion_id, state, total, done"

COLUMNS = (
    "j.id, j.promotion_id, p.code AS promotion_code, j.state, j.total, j.done, j.code_length, "
    "j.prefix, j.suffix, j.expires_at, j.usage_limit, j.per_customer_usage_limit, j.error, "
    "j.created_at, j.updated_at"
)
CTE_FROM = "j JOIN promotions p ON p.id = j.promotion_id"


def to_job(row: asyncpg.Record) -> GenerationJob:
    return GenerationJob(**dict(row))


async def create(
    conn: Connection,
    *,
    promotion_id: int,
    total: int,
    code_length: int,
    prefix: str,
    suffix: str,
    limits: CouponLimits,
    state: str = "pending",
) -> GenerationJob:
    row = await conn.fetchrow(
        "WITH j AS (INSERT INTO generation_jobs (promotion_id, total, code_length, prefix, "
        "suffix, expires_at, usage_limit, per_customer_usage_limit, state) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *) "
        f"SELECT {COLUMNS} FROM {CTE_FROM}",
        promotion_id,
        total,
        code_length,
        prefix,
        suffix,
        limits.expires_at,
        limits.usage_limit,
        limits.per_customer_usage_limit,
        state,
    )
    assert row is not None
    return to_job(row)


async def get(conn: Connection, promotion_id: int, job_id: int) -> GenerationJob | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM generation_jobs j JOIN promotions p ON p.id = j.promotion_id "
        "WHERE j.id = $1 AND j.promotion_id = $2",
        job_id,
        promotion_id,
    )
    return None if row is None else to_job(row)


async def lease_next(conn: Connection, *, owner: str, lease_s: float) -> GenerationJob | None:
    """Take the oldest unfinished job nobody holds (or whose holder stopped renewing)."""
    row = await conn.fetchrow(
        "WITH j AS (UPDATE generation_jobs SET state = 'running', lease_owner = $1, "
        "lease_until = now() + make_interval(secs => $2), updated_at = now() "
        "WHERE id = (SELECT id FROM generation_jobs WHERE state IN ('pending', 'running') "
        "AND (lease_until IS NULL OR lease_until < now()) ORDER BY id LIMIT 1 "
        "FOR UPDATE SKIP LOCKED) RETURNING *) "
        f"SELECT {COLUMNS} FROM {CTE_FROM}",
        owner,
        lease_s,
    )
    return None if row is None else to_job(row)


async def renew(conn: Connection, job_id: int, *, owner: str, lease_s: float) -> int | None:
    """Extend our lease and lock the job row for this transaction; its ``done``, or None when
    the job is no longer ours to run."""
    done = await conn.fetchval(
        "UPDATE generation_jobs SET lease_until = now() + make_interval(secs => $3), "
        "updated_at = now() WHERE id = $1 AND lease_owner = $2 AND state = 'running' "
        "RETURNING done",
        job_id,
        owner,
        lease_s,
    )
    return None if done is None else int(done)


async def add_done(conn: Connection, job_id: int, count: int) -> int:
    """Count a batch stored (inside its transaction, the job renewed); the batch that
    completes the job marks it done and writes its generation.completed event."""
    done = await conn.fetchval(
        "WITH updated AS (UPDATE generation_jobs SET done = done + $2, "
        "state = CASE WHEN done + $2 >= total THEN 'done' ELSE state END, "
        "lease_owner = CASE WHEN done + $2 >= total THEN NULL ELSE lease_owner END, "
        "lease_until = CASE WHEN done + $2 >= total THEN NULL ELSE lease_until END "
        f"WHERE id = $1 {_ENDED}, done - $2 < total AS was_open), "
        "finished AS (SELECT * FROM updated WHERE state = 'done' AND was_open), "
        f"{_COMPLETED} SELECT done FROM updated",
        job_id,
        count,
    )
    return int(done)


async def fail(conn: Connection, job_id: int, error: str) -> bool:
    """End an unfinished job as failed, with its generation.completed event; False when it
    had ended already (done, or failed by another replica or a deletion)."""
    ended = await conn.fetchval(
        "WITH finished AS (UPDATE generation_jobs SET state = 'failed', error = $2, "
        "lease_owner = NULL, lease_until = NULL, updated_at = now() "
        f"WHERE id = $1 AND state IN ('pending', 'running') {_ENDED}), "
        f"{_COMPLETED} SELECT count(*) FROM finished",
        job_id,
        error,
    )
    return bool(ended)


async def release(conn: Connection, job_id: int, *, owner: str) -> None:
    """Give a job back (this replica is stopping): another may take it at once."""
    await conn.execute(
        "UPDATE generation_jobs SET lease_owner = NULL, lease_until = NULL, updated_at = now() "
        "WHERE id = $1 AND lease_owner = $2",
        job_id,
        owner,
    )


async def stop_for_promotion(conn: Connection, promotion_id: int) -> None:
    """Fail the promotion's unfinished jobs (it is being deleted); waits for a batch in
    flight, whose transaction holds the job row. A runner keeps its lease until it has
    finished with the batch it committed last. Each job stopped writes its
    generation.completed event (failed) while its promotion still exists."""
    await conn.execute(
        "WITH finished AS (UPDATE generation_jobs SET state = 'failed', "
        "error = 'promotion deleted', updated_at = now() "
        f"WHERE promotion_id = $1 AND state IN ('pending', 'running') {_ENDED}), "
        f"{_COMPLETED} SELECT count(*) FROM finished",
        promotion_id,
    )


async def held_for_promotion(conn: Connection, promotion_id: int) -> int:
    """How many of the promotion's jobs a live runner still holds."""
    held = await conn.fetchval(
        "SELECT count(*) FROM generation_jobs WHERE promotion_id = $1 "
        "AND lease_owner IS NOT NULL AND lease_until > now()",
        promotion_id,
    )
    return int(held)
