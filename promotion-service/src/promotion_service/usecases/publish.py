"""Facts and code registry entries in Redis, kept in step with PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
import orjson
from coupon_core import code_registry, facts, redis_keys
from coupon_core.facts import CouponFacts
from redis.asyncio import Redis

from promotion_service.db import coupons as coupon_db
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.facts import coupon_facts, group_facts, group_of
from promotion_service.domain.models import Coupon, CouponLimits, Promotion
from promotion_service.domain.times import unix
from promotion_service.usecases import bulk_redis

log = logging.getLogger(__name__)


async def promotion(redis: Redis, promo: Promotion) -> None:
    await facts.publish(redis, group_facts(promo))


async def coupons(redis: Redis, items: Sequence[Coupon], *, reserve: bool = False) -> None:
    """Publish coupons' facts; with ``reserve`` also (re)reserve their codes in the code registry
    (after Redis lost its data). Both in one pipelined round trip per group."""
    if not items:
        return
    by_group: dict[str, list[Coupon]] = {}
    for coupon in items:
        by_group.setdefault(group_of(coupon.promotion_code), []).append(coupon)
    for group, members in by_group.items():
        if reserve:
            owned = await bulk_redis.reserve_codes(redis, [c.code for c in members], group)
            held = [c.code for c, ok in zip(members, owned, strict=True) if not ok]
            if held:  # by us already, or by another owner
                owners = await code_registry.owners_of(redis, held)
                lost = sum(1 for owner in owners if owner is not None and owner != group)
                if lost:
                    log.warning("%d codes of %s are reserved by another owner", lost, group)
        await _publish_coupon_facts(redis, group, members)


async def _publish_coupon_facts(redis: Redis, group: str, members: Sequence[Coupon]) -> None:
    # The keys of one group share its hash tag, hence one slot: MSET is safe on a cluster.
    await bulk_redis.set_same_slot(
        redis,
        [
            (redis_keys.coupon_facts(group, c.code), coupon_facts(c).model_dump_json())
            for c in members
        ],
    )


async def generated(
    redis: Redis, promotion_code: str, inserted: Sequence[tuple[int, str]], limits: CouponLimits
) -> None:
    """Facts of a generated batch: its coupons share every fact but their code and id, so
    the model is built once and each coupon's JSON derived from it."""
    if not inserted:
        return
    group = group_of(promotion_code)
    first_id, first_code = inserted[0]
    template = CouponFacts(
        code=first_code,
        group=group,
        coupon_id=first_id,
        expires_at=unix(limits.expires_at),
        usage_limit=limits.usage_limit,
        per_customer_limit=limits.per_customer_usage_limit,
    ).model_dump(mode="json")
    await bulk_redis.set_same_slot(
        redis,
        [
            (
                redis_keys.coupon_facts(group, code),
                orjson.dumps({**template, "code": code, "coupon_id": coupon_id}).decode(),
            )
            for coupon_id, code in inserted
        ],
    )


async def forget_coupons(redis: Redis, group: str, codes: Sequence[str]) -> None:
    """Retract coupons' facts and give their codes back to the code registry."""
    if not codes:
        return
    await redis.delete(*[redis_keys.coupon_facts(group, code) for code in codes])
    await code_registry.release(redis, codes, group)


async def forget_promotion(redis: Redis, code: str) -> None:
    await redis.delete(redis_keys.group_facts(group_of(code)))


async def everything(pool: asyncpg.Pool, redis: Redis, *, batch_size: int) -> int:
    """Publish the facts of every promotion and coupon not retired and reserve their codes;
    coupons count. Retired ones stay out: their keys would otherwise come back."""
    async with pool.acquire() as conn:
        promos = await promotion_db.unretired(conn)
    for promo in promos:
        await promotion(redis, promo)
    return await coupons_from_db(pool, redis, batch_size=batch_size)


async def coupons_from_db(
    pool: asyncpg.Pool, redis: Redis, *, batch_size: int, job_id: int | None = None
) -> int:
    published = 0
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        async for batch in coupon_db.batches(
            conn, batch_size=batch_size, job_id=job_id, unretired=True
        ):
            await coupons(redis, batch, reserve=True)
            published += len(batch)
    return published
