"""What the promotion-service removes once past retention (coupon_core.retention runs the jobs):
the outbox and processed_events (it keeps no idempotency keys), and the Redis keys of
promotions and coupons dead for longer than DEAD_OBJECT_GRACE_DAYS."""

from __future__ import annotations

from aiohttp import web
from coupon_core import retention, retirement
from coupon_core.keys import PG_POOL, REDIS

from promotion_service.db.retirement import SCHEMA
from promotion_service.keys import SETTINGS


def jobs(app: web.Application) -> list[retention.Job]:
    pool, settings = app[PG_POOL], app[SETTINGS]
    return [
        *retention.standard_jobs(pool, settings, idempotency_keys=False),
        retirement.job(pool, app[REDIS], SCHEMA, grace_days=settings.dead_object_grace_days),
    ]
