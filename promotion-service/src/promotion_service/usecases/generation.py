"""Generating coupons in bulk: within the request up to a limit, as a background job above."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from coupon_core import events, registry
from coupon_core.db import Connection
from redis.asyncio import Redis

from promotion_service.db import coupons as coupon_db
from promotion_service.db import generation as generation_db
from promotion_service.db import jobs as job_db
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.codes import keyspace_holds, random_codes
from promotion_service.domain.errors import GENERATE_FORM, invalid, promotion_not_found
from promotion_service.domain.facts import group_of
from promotion_service.domain.models import Coupon, CouponLimits, GenerationJob, Promotion
from promotion_service.usecases import publish
from promotion_service.usecases.coupons import require_coupon_based

EVENTS = "promotion"


@dataclass(frozen=True, slots=True)
class Request:
    amount: int
    code_length: int
    prefix: str
    suffix: str
    limits: CouponLimits


async def _checked_promotion(conn: Connection, promotion_code: str, req: Request) -> Promotion:
    promo = await promotion_db.get(conn, promotion_code)
    if promo is None:
        raise promotion_not_found(promotion_code)
    require_coupon_based(promo)
    existing = await coupon_db.count(conn, promo.id)
    if not keyspace_holds(code_length=req.code_length, amount=req.amount, existing=existing):
        raise invalid(
            GENERATE_FORM,
            {
                "codeLength": [
                    f"Codes of {req.code_length} random characters cannot hold {req.amount} "
                    "more unique codes for this promotion; use longer codes."
                ]
            },
        )
    return promo


async def _fill(
    conn: Connection,
    redis: Redis,
    *,
    promo: Promotion,
    job_id: int | None,
    count: int,
    req: Request,
) -> tuple[list[Coupon], list[str]]:
    """Insert ``count`` new coupons inside the caller's transaction: the coupons, and every
    code claimed in the registry for them (to release should the transaction fail)."""
    group = group_of(promo.code)
    made: list[Coupon] = []
    claimed: list[str] = []
    while len(made) < count:
        codes = list(
            random_codes(
                count - len(made), code_length=req.code_length, prefix=req.prefix, suffix=req.suffix
            )
        )
        owned = await registry.claim_many(redis, codes, group)
        mine = [code for code, ok in zip(codes, owned, strict=True) if ok]
        claimed.extend(mine)
        inserted = await generation_db.insert_batch(
            conn, promotion_id=promo.id, job_id=job_id, codes=mine, limits=req.limits
        )
        made.extend(_coupons(promo.code, inserted, req.limits))
    return made, claimed


def _coupons(
    promotion_code: str, inserted: list[tuple[int, str]], limits: CouponLimits
) -> list[Coupon]:
    # Only what the facts need; the timestamps are not read.
    now = datetime.now(UTC)
    return [
        Coupon(
            id=coupon_id,
            promotion_code=promotion_code,
            code=code,
            usage_limit=limits.usage_limit,
            per_customer_usage_limit=limits.per_customer_usage_limit,
            expires_at=limits.expires_at,
            used=0,
            created_at=now,
            updated_at=now,
        )
        for coupon_id, code in inserted
    ]


async def _announce(conn: Connection, promo: Promotion, count: int, job_id: int | None) -> None:
    # One event per batch rather than one per code: a million events would cost as much as
    # the codes themselves; consumers read the codes from the promotion when they need them.
    payload: dict[str, object] = {
        "group": group_of(promo.code),
        "promotionCode": promo.code,
        "couponsGenerated": count,
    }
    if job_id is not None:
        payload["jobId"] = job_id
    await events.enqueue(conn, service=EVENTS, event_type="promotion.updated", payload=payload)


async def generate_now(pool: asyncpg.Pool, redis: Redis, promotion_code: str, req: Request) -> int:
    """All ``req.amount`` coupons in one transaction: all of them or none."""
    claimed: list[str] = []
    try:
        async with pool.acquire() as conn, conn.transaction():
            promo = await _checked_promotion(conn, promotion_code, req)
            made, claimed = await _fill(
                conn, redis, promo=promo, job_id=None, count=req.amount, req=req
            )
            await _announce(conn, promo, len(made), None)
    except BaseException:
        await registry.release(redis, claimed, group_of(promotion_code))
        raise
    await publish.coupons(redis, made)
    return len(made)


async def start_job(pool: asyncpg.Pool, promotion_code: str, req: Request) -> GenerationJob:
    async with pool.acquire() as conn, conn.transaction():
        promo = await _checked_promotion(conn, promotion_code, req)
        return await job_db.create(
            conn,
            promotion_id=promo.id,
            total=req.amount,
            code_length=req.code_length,
            prefix=req.prefix,
            suffix=req.suffix,
            limits=req.limits,
        )


async def job_status(pool: asyncpg.Pool, promotion_code: str, job_id: int) -> GenerationJob | None:
    async with pool.acquire() as conn:
        promo = await promotion_db.get(conn, promotion_code)
        if promo is None:
            raise promotion_not_found(promotion_code)
        return await job_db.get(conn, promo.id, job_id)


async def run_batch(
    pool: asyncpg.Pool,
    redis: Redis,
    job: GenerationJob,
    *,
    owner: str,
    lease_s: float,
    batch_size: int,
) -> int | None:
    """One batch of a job, progress recorded in the batch's transaction; the job's ``done``
    after it, or None when the job is no longer ours (finished, deleted, taken over)."""
    req = Request(
        amount=job.total,
        code_length=job.code_length,
        prefix=job.prefix,
        suffix=job.suffix,
        limits=CouponLimits(
            usage_limit=job.usage_limit,
            per_customer_usage_limit=job.per_customer_usage_limit,
            expires_at=job.expires_at,
        ),
    )
    claimed: list[str] = []
    try:
        async with pool.acquire() as conn, conn.transaction():
            done = await job_db.renew(conn, job.id, owner=owner, lease_s=lease_s)
            if done is None:
                return None
            promo = await promotion_db.get(conn, job.promotion_code)
            if promo is None:
                return None
            count = min(batch_size, job.total - done)
            made, claimed = await _fill(
                conn, redis, promo=promo, job_id=job.id, count=count, req=req
            )
            await _announce(conn, promo, len(made), job.id)
            done = await job_db.add_done(conn, job.id, len(made))
    except BaseException:
        await registry.release(redis, claimed, group_of(job.promotion_code))
        raise
    await publish.coupons(redis, made)
    return done
