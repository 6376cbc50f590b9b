"""What the gateway removes once past retention (coupon_core.retention runs the jobs): audit
records older than ``AUDIT_RETENTION_DAYS``, user tokens a day past their expiry (revoked ones
too: a token's expiry is at most USER_TOKEN_TTL_S away), and staff sessions older than
``STAFF_SESSION_ABSOLUTE_HOURS`` plus a day (no session lives longer). The gateway keeps no
outbox."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import PG_POOL

from gateway.db.audit import DELETE_PAST, PAST_LAG
from gateway.keys import SETTINGS

# Past retention: an expired user token, a staff session older than any session may live.
DELETE_USER_TOKENS = retention.delete_sql(
    "user_tokens", "expires_at < now() - $2::interval", "expires_at"
)
USER_TOKENS_LAG = retention.lag_sql("user_tokens", "expires_at")
DELETE_STAFF_SESSIONS = retention.delete_sql(
    "staff_sessions", "created_at < now() - $2::interval", "created_at"
)
STAFF_SESSIONS_LAG = retention.lag_sql("staff_sessions", "created_at")
# Kept past their end for a day, so a support question about one still finds it.
GRACE = timedelta(days=1)


def jobs(app: web.Application) -> list[retention.Job]:
    settings, pool = app[SETTINGS], app[PG_POOL]
    sessions = timedelta(hours=settings.staff_session_absolute_hours) + GRACE
    return [
        retention.sql_job(
            "audit_log", pool, timedelta(days=settings.audit_retention_days), DELETE_PAST, PAST_LAG
        ),
        retention.sql_job("user_tokens", pool, GRACE, DELETE_USER_TOKENS, USER_TOKENS_LAG),
        retention.sql_job(
            "staff_sessions", pool, sessions, DELETE_STAFF_SESSIONS, STAFF_SESSIONS_LAG
        ),
    ]
