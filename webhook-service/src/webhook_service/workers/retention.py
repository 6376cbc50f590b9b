"""What the webhook-service removes once past retention (coupon_core.retention runs the jobs):
the outbox (unused here) and processed_events; attempts older than
``WEBHOOK_ATTEMPT_RETENTION_H``; events older than ``WEBHOOK_EVENT_RETENTION_H`` that no
enabled endpoint still waits for, with their deliveries and attempts (a disabled endpoint's
undelivered events go with them: re-enabled within that time, it still gets them)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import PG_POOL

from webhook_service.keys import SETTINGS

# Rows are reached by address in index order, as the standard jobs are (coupon_core.retention).
_DELETE_ATTEMPTS = retention.delete_sql(
    "webhook_attempts", "attempted_at < now() - $2::interval", "attempted_at"
)
_ATTEMPTS_LAG = retention.lag_sql("webhook_attempts", "attempted_at")
_EVENT_DONE = (
    "NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
    "JOIN webhook_endpoints e ON e.id = d.endpoint_id "
    "WHERE d.event_id = ev.id AND d.status = 'pending' AND e.enabled)"
)
# Its deliveries and their attempts go with it (ON DELETE CASCADE).
_DELETE_EVENTS = retention.delete_sql(
    "webhook_events ev", f"created_at < now() - $2::interval AND {_EVENT_DONE}", "created_at"
)
_EVENTS_LAG = retention.lag_sql("webhook_events ev", "created_at", f" WHERE {_EVENT_DONE}")


def jobs(app: web.Application) -> list[retention.Job]:
    pool, settings = app[PG_POOL], app[SETTINGS]
    return [
        *retention.standard_jobs(pool, settings, idempotency_keys=False),
        retention.sql_job(
            "webhook_attempts",
            pool,
            timedelta(hours=settings.webhook_attempt_retention_h),
            _DELETE_ATTEMPTS,
            _ATTEMPTS_LAG,
        ),
        retention.sql_job(
            "webhook_events",
            pool,
            timedelta(hours=settings.webhook_event_retention_h),
            _DELETE_EVENTS,
            _EVENTS_LAG,
        ),
    ]
