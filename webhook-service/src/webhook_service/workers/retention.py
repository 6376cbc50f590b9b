"""What the webhook-service removes once past retention (coupon_core.retention runs the jobs)."""

from __future__ import annotations

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import PG_POOL

from webhook_service.keys import SETTINGS


def jobs(app: web.Application) -> list[retention.Job]:
    return [*retention.standard_jobs(app[PG_POOL], app[SETTINGS], idempotency_keys=False)]
