"""Creating, changing and deleting single promotion coupons."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from coupon_core import code_registry, events, redis_keys
from coupon_core.errors import BadRequest
from redis.asyncio import Redis

from promotion_service.db import coupons as coupon_db
from promotion_service.db import promotions as promotion_db
from promotion_service.domain.errors import coupon_code_taken, coupon_not_found, promotion_not_found
from promotion_service.domain.facts import group_of
from promotion_service.domain.models import Coupon, CouponLimits, Promotion
from promotion_service.usecases import publish

EVENTS = "promotion"


def require_coupon_based(promo: Promotion) -> None:
    if not promo.coupon_based:
        raise BadRequest(f'Promotion "{promo.code}" is not coupon based: it takes no coupons.')


async def get(pool: asyncpg.Pool, promotion_code: str, code: str) -> Coupon:
    async with pool.acquire() as conn:
        promo = await promotion_db.get(conn, promotion_code)
        if promo is None:
            raise promotion_not_found(promotion_code)
        coupon = await coupon_db.get(conn, promo.id, code)
    if coupon is None:
        raise coupon_not_found(code)
    return coupon


async def create(
    pool: asyncpg.Pool, redis: Redis, promotion_code: str, code: str, limits: CouponLimits
) -> Coupon:
    group = group_of(promotion_code)
    async with pool.acquire() as conn:
        promo = await promotion_db.get(conn, promotion_code)
    if promo is None:
        raise promotion_not_found(promotion_code)
    require_coupon_based(promo)
    # A code is unique platform-wide: reserve it before the row exists, give it back if the
    # row does not come to be.
    fresh = bool(await redis.set(redis_keys.code_owner(code), group, nx=True))
    if not fresh and await code_registry.owner_of(redis, code) != group:
        raise coupon_code_taken()
    try:
        async with pool.acquire() as conn, conn.transaction():
            coupon = await coupon_db.insert(conn, promo.id, code, limits)
            await events.enqueue(
                conn,
                service=EVENTS,
                event_type="coupon.created",
                payload={"code": code, "group": group, "couponId": coupon.id},
            )
    except BaseException:
        if fresh:
            await code_registry.release(redis, [code], group)
        raise
    await publish.coupons(redis, [coupon])
    return coupon


async def update(
    pool: asyncpg.Pool,
    redis: Redis,
    promotion_code: str,
    code: str,
    change: Callable[[Coupon], CouponLimits],
) -> Coupon:
    async with pool.acquire() as conn, conn.transaction():
        promo = await promotion_db.get(conn, promotion_code)
        if promo is None:
            raise promotion_not_found(promotion_code)
        current = await coupon_db.get(conn, promo.id, code, for_update=True)
        if current is None:
            raise coupon_not_found(code)
        coupon = await coupon_db.update(conn, current.id, change(current))
    await publish.coupons(redis, [coupon])
    return coupon


async def delete(pool: asyncpg.Pool, redis: Redis, promotion_code: str, code: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        promo = await promotion_db.get(conn, promotion_code)
        if promo is None:
            raise promotion_not_found(promotion_code)
        current = await coupon_db.get(conn, promo.id, code, for_update=True)
        if current is None:
            raise coupon_not_found(code)
        await coupon_db.delete(conn, current.id)
    await publish.forget_coupons(redis, group_of(promotion_code), [code])
