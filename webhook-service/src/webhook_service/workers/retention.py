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

# $1: the batch size, $2: the retention. Rows are reached by address, as the standard jobs
# do (coupon_core.retention): a batch's addresses read in index order, then a TID scan.
_DELETE_ATTEMPTS = (
    "DELETE FROM webhook_attempts WHERE ctid = ANY(ARRAY(SELECT ctid FROM webhook_attempts "
    "WHERE attempted_at < now() - $2::interval ORDER BY attempted_at LIMIT $1))"
)
_ATTEMPTS_LAG = (
    "SELECT GREATEST(0, COALESCE(EXTRACT(EPOCH FROM "
    "now() - $1::interval - min(attempted_at)), 0))::float8 FROM webhook_attempts"
)
_EVENT_DONE = (
    "NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
    "JOIN webhook_endpoints e ON e.id = d.endpoint_id "
    "WHERE d.event_id = ev.id AND d.status = 'pending' AND e.enabled)"
)
# Its deliveries and their attempts go with it (ON DELETE CASCADE).
_DELETE_EVENTS = (
    "DELETE FROM webhook_events WHERE ctid = ANY(ARRAY(SELECT ctid FROM webhook_events ev "
    f"WHERE created_at < now() - $2::interval AND {_EVENT_DONE} ORDER BY created_at LIMIT $1))"
)
_EVENTS_LAG = (
    "SELECT GREATEST(0, COALESCE(EXTRACT(EPOCH FROM "
    "now() - $1::interval - min(created_at)), 0))::float8 FROM webhook_events ev "
    f"WHERE {_EVENT_DONE}"
)


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
