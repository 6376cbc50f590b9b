"""What the gateway removes once past retention (coupon_core.retention runs the jobs): audit
records older than ``AUDIT_RETENTION_DAYS``. The gateway keeps no outbox."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import PG_POOL

from gateway.db.audit import DELETE_PAST, PAST_LAG
from gateway.keys import SETTINGS


def jobs(app: web.Application) -> list[retention.Job]:
    days = app[SETTINGS].audit_retention_days
    return [
        retention.sql_job("audit_log", app[PG_POOL], timedelta(days=days), DELETE_PAST, PAST_LAG)
    ]
