"""Creating, changing and deleting promotions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
from coupon_core import events
from redis.asyncio import Redis

from promotion_service.db import coupons as coupon_db
from promotion_service.db import jobs as job_db
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.errors import promotion_not_found
from promotion_service.domain.facts import group_of
from promotion_service.domain.models import Promotion
from promotion_service.usecases import publish

EVENTS = "promotion"
DELETE_BATCH = 20_000
# A runner lets go of a stopped job within a batch; its lease bounds the wait anyway.
JOB_STOP_WAIT_S = 30.0


def _updated(promo: Promotion) -> dict[str, str]:
    return {"group": group_of(promo.code), "promotionCode": promo.code}


async def get(pool: asyncpg.Pool, code: str) -> Promotion:
    async with pool.acquire() as conn:
        promo = await promotion_db.get(conn, code)
    if promo is None:
        raise promotion_not_found(code)
    return promo


async def create(pool: asyncpg.Pool, redis: Redis, draft: Promotion) -> Promotion:
    async with pool.acquire() as conn, conn.transaction():
        promo = await promotion_db.insert(conn, draft)
        await events.enqueue(
            conn, service=EVENTS, event_type="promotion.updated", payload=_updated(promo)
        )
    await publish.promotion(redis, promo)
    return promo


async def update(
    pool: asyncpg.Pool, redis: Redis, code: str, change: Callable[[Promotion], Promotion]
) -> Promotion:
    async with pool.acquire() as conn, conn.transaction():
        current = await promotion_db.get(conn, code, for_update=True)
        if current is None:
            raise promotion_not_found(code)
        promo = await promotion_db.update(conn, change(current))
        await events.enqueue(
            conn, service=EVENTS, event_type="promotion.updated", payload=_updated(promo)
        )
    await publish.promotion(redis, promo)
    return promo


async def delete(pool: asyncpg.Pool, redis: Redis, code: str) -> None:
    """Coupons go first, a batch per transaction, each batch's codes released after it
    commits; then the promotion itself."""
    promo = await get(pool, code)
    group = group_of(code)
    async with pool.acquire() as conn, conn.transaction():
        # No job may add coupons (or publish their facts) behind the deletion below.
        await job_db.stop_for_promotion(conn, promo.id)
    give_up = time.monotonic() + JOB_STOP_WAIT_S
    while time.monotonic() < give_up:
        async with pool.acquire() as conn:
            if not await job_db.held_for_promotion(conn, promo.id):
                break
        await asyncio.sleep(0.05)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            codes = await coupon_db.delete_batch(conn, promo.id, DELETE_BATCH)
        await publish.forget_coupons(redis, group, codes)
        if len(codes) < DELETE_BATCH:
            break
    async with pool.acquire() as conn, conn.transaction():
        await promotion_db.delete(conn, promo.id)
        await events.enqueue(
            conn,
            service=EVENTS,
            event_type="promotion.updated",
            payload={**_updated(promo), "deleted": True},
        )
    await publish.forget_promotion(redis, code)
