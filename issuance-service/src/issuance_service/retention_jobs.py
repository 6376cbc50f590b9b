"""What the issuance-service removes once past retention (coupon_core.retention runs the jobs):
the outbox, processed_events and idempotency keys, and the Redis keys of series and issued
coupons past their validity for longer than DEAD_OBJECT_GRACE_DAYS."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import PG_POOL, REDIS

from issuance_service import retiring
from issuance_service.keys import SETTINGS


def jobs(app: web.Application) -> list[retention.Job]:
    pool, redis = app[PG_POOL], app[REDIS]
    grace = timedelta(days=app[SETTINGS].dead_object_grace_days)

    async def dead_objects(limit: int) -> int:
        return await retiring.step(pool, redis, grace=grace, limit=limit)

    async def dead_objects_lag() -> float:
        return await retiring.lag_s(pool, grace=grace)

    return [
        *retention.standard_jobs(pool, app[SETTINGS], idempotency_keys=True),
        retention.Job(name="redis_dead_objects", step=dead_objects, lag=dead_objects_lag),
    ]
