"""What the promotion-service removes once past retention (coupon_core.retention runs the jobs):
the outbox and processed_events (it keeps no idempotency keys), and the Redis keys of
promotions and coupons dead for longer than DEAD_OBJECT_GRACE_DAYS."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import PG_POOL, REDIS

from promotion_service.keys import SETTINGS
from promotion_service.usecases import retire


def jobs(app: web.Application) -> list[retention.Job]:
    pool, redis = app[PG_POOL], app[REDIS]
    grace = timedelta(days=app[SETTINGS].dead_object_grace_days)

    async def dead_objects(limit: int) -> int:
        return await retire.step(pool, redis, grace=grace, limit=limit)

    async def dead_objects_lag() -> float:
        return await retire.lag_s(pool, grace=grace)

    return [
        *retention.standard_jobs(pool, app[SETTINGS], idempotency_keys=False),
        retention.Job(name="redis_dead_objects", step=dead_objects, lag=dead_objects_lag),
    ]
