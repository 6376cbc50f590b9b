"""Generating coupons in bulk: within the request up to a limit, as a background job above."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
from coupon_core import code_registry, events
from coupon_core.db import Connection
from coupon_core.lifecycle import check_stopping, stopping
from redis.asyncio import Redis

from promotion_service.db import coupons as coupon_db
from promotion_service.db import generation as generation_db
from promotion_service.db import jobs as job_db
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.codes import keyspace_holds, random_codes
from promotion_service.domain.errors import GENERATE_FORM, invalid, promotion_not_found
from promotion_service.domain.facts import group_of
from promotion_service.domain.models import CouponLimits, GenerationJob, Promotion
from promotion_service.usecases import bulk_redis, publish
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
    count: int,
    req: Request,
    reserved: list[str],
) -> list[tuple[int, str]]:
    """Insert ``count`` new coupons inside the caller's transaction; (id, code) of each.
    Every code reserved in the code registry is added to ``reserved``, to release should the
    transaction fail."""
    group = group_of(promo.code)
    inserted: list[tuple[int, str]] = []
    while len(inserted) < count:
        mine = await _reserve(redis, group, req, count - len(inserted))
        reserved.extend(mine)
        inserted.extend(
            await generation_db.insert_batch(
                conn, promotion_id=promo.id, job_id=None, codes=mine, limits=req.limits
            )
        )
    return inserted


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
    reserved: list[str] = []
    try:
        async with pool.acquire() as conn, conn.transaction():
            promo = await _checked_promotion(conn, promotion_code, req)
            inserted = await _fill(
                conn, redis, promo=promo, count=req.amount, req=req, reserved=reserved
            )
            await _announce(conn, promo, len(inserted), None)
    except BaseException:
        await code_registry.release(redis, reserved, group_of(promotion_code))
        raise
    await publish.generated(redis, promotion_code, inserted, req.limits)
    return len(inserted)


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


async def _reserve(redis: Redis, group: str, req: Request, count: int) -> list[str]:
    """``count`` fresh random codes, those of them the code registry gave us."""
    codes = list(
        random_codes(count, code_length=req.code_length, prefix=req.prefix, suffix=req.suffix)
    )
    owned = await bulk_redis.reserve_codes(redis, codes, group)
    return [code for code, ok in zip(codes, owned, strict=True) if ok]


def _job_request(job: GenerationJob) -> Request:
    return Request(
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


def _start_reserving(
    redis: Redis, group: str, req: Request, count: int
) -> asyncio.Task[list[str]] | None:
    """A reservation of ``count`` codes for a batch to come, in the background; None when no
    codes remain to reserve."""
    return asyncio.create_task(_reserve(redis, group, req, count)) if count > 0 else None


@dataclass(frozen=True, slots=True)
class _Stored:
    inserted: list[tuple[int, str]]
    done: int


async def _store_batch(
    pool: asyncpg.Pool,
    job: GenerationJob,
    codes: list[str],
    limits: CouponLimits,
    *,
    owner: str,
    lease_s: float,
) -> _Stored | None:
    """One batch, its event and the job's progress in one transaction; the rows inserted
    and the job's ``done``, or None when the job stopped being ours (taken over, promotion
    deleted)."""
    async with pool.acquire() as conn, conn.transaction():
        if await job_db.renew(conn, job.id, owner=owner, lease_s=lease_s) is None:
            return None
        promo = await promotion_db.get(conn, job.promotion_code)
        if promo is None:
            return None
        inserted = await generation_db.insert_batch(
            conn, promotion_id=promo.id, job_id=job.id, codes=codes, limits=limits
        )
        await _announce(conn, promo, len(inserted), job.id)
        return _Stored(inserted, await job_db.add_done(conn, job.id, len(inserted)))


async def _release_clashes(
    redis: Redis, group: str, codes: list[str], inserted: list[tuple[int, str]]
) -> None:
    """Give back the codes of a batch that clashed with rows Redis had forgotten."""
    if len(inserted) < len(codes):
        kept = {code for _, code in inserted}
        await code_registry.release(redis, [c for c in codes if c not in kept], group)


async def _publish_after(
    previous: asyncio.Task[None] | None,
    redis: Redis,
    job: GenerationJob,
    inserted: list[tuple[int, str]],
    limits: CouponLimits,
) -> asyncio.Task[None]:
    """Once the previous batch's facts are published, publish this batch's in the
    background."""
    if previous is not None:
        await previous
    return asyncio.create_task(publish.generated(redis, job.promotion_code, inserted, limits))


def _reserved_ahead(reserving: asyncio.Task[list[str]] | None) -> list[str]:
    """The codes a finished reservation for the next batch got (none if it failed)."""
    if reserving is None or not reserving.done() or reserving.cancelled():
        return []
    return reserving.result() if reserving.exception() is None else []


async def _wind_down(
    redis: Redis,
    group: str,
    codes: list[str],
    reserving: asyncio.Task[list[str]] | None,
    publishing: asyncio.Task[None] | None,
) -> None:
    """Let the reservation and the publication in flight end (cut short when the service is
    stopping), then give back the codes reserved for batches that did not commit."""
    in_flight = {t for t in (reserving, publishing) if t is not None and not t.done()}
    if in_flight and not stopping():
        await asyncio.wait(in_flight)
    unused = [*codes, *_reserved_ahead(reserving)]
    for task in in_flight:
        task.cancel()  # a no-op on those that ended
    # Best effort: the reservations of a batch cut off halfway through its round trip stay with
    # this promotion, unused.
    if unused:
        await code_registry.release(redis, unused, group)


async def run_job(
    pool: asyncpg.Pool,
    redis: Redis,
    job: GenerationJob,
    *,
    owner: str,
    lease_s: float,
    batch_size: int,
) -> int | None:
    """Run a job to its end, a batch per transaction with its progress; the job's ``done``,
    or None when it stopped being ours (taken over, promotion deleted).

    Three stages overlap: while PostgreSQL stores batch k, the codes of batch k+1 are
    reserved in the code registry and the facts of batch k-1 are published."""
    req = _job_request(job)
    group = group_of(job.promotion_code)
    done = job.done
    codes: list[str] = []  # reserved for the batch in hand, not committed yet
    reserving: asyncio.Task[list[str]] | None = None
    publishing: asyncio.Task[None] | None = None
    try:
        reserving = asyncio.create_task(
            _reserve(redis, group, req, min(batch_size, job.total - done))
        )
        while reserving is not None:
            check_stopping()
            codes = await reserving
            ahead = min(batch_size, job.total - done - len(codes))
            reserving = _start_reserving(redis, group, req, ahead)
            stored = await _store_batch(pool, job, codes, req.limits, owner=owner, lease_s=lease_s)
            if stored is None:
                return None
            done = stored.done
            await _release_clashes(redis, group, codes, stored.inserted)
            codes = []
            publishing = await _publish_after(publishing, redis, job, stored.inserted, req.limits)
            if reserving is None:  # the batch clashed: reserve again what it could not store
                reserving = _start_reserving(redis, group, req, min(batch_size, job.total - done))
        if publishing is not None:
            await publishing
        return done
    finally:
        await _wind_down(redis, group, codes, reserving, publishing)
