"""/healthz, /readyz and /metrics, the same on every process (see coupon_core.metrics)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from coupon_core.http import json_response
from coupon_core.keys import METRICS, MIGRATIONS, PG_POOL, REDIS

log = logging.getLogger(__name__)

READY_CHECK_TIMEOUT_S = 2.0


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _check_postgres(app: web.Application) -> str:
    pool = app.get(PG_POOL)
    if pool is None:
        return "absent"
    async with pool.acquire(timeout=READY_CHECK_TIMEOUT_S) as conn:
        await conn.fetchval("SELECT 1", timeout=READY_CHECK_TIMEOUT_S)
    return "ok"


async def _check_redis(app: web.Application) -> str:
    client = app.get(REDIS)
    if client is None:
        return "absent"
    await asyncio.wait_for(client.ping(), READY_CHECK_TIMEOUT_S)
    return "ok"


async def _check_migrations(app: web.Application) -> str:
    """Not ready while the database lacks a migration this code expects (a migration Job
    that has not run yet): the process would fail on the first query that needs it."""
    migrations, pool = app.get(MIGRATIONS), app.get(PG_POOL)
    if migrations is None or pool is None:
        return "absent"
    async with pool.acquire(timeout=READY_CHECK_TIMEOUT_S) as conn:
        pending = await migrations.pending(conn)
    return "pending: " + ", ".join(pending) if pending else "ok"


async def readiness(app: web.Application) -> tuple[bool, dict[str, str]]:
    """Whether this process can serve, and each check's result."""
    checks: dict[str, str] = {}
    for name, check in (
        ("postgres", _check_postgres),
        ("redis", _check_redis),
        ("migrations", _check_migrations),
    ):
        try:
            checks[name] = await check(app)
        except Exception as exc:  # any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}"
    return all(value in ("ok", "absent") for value in checks.values()), checks


async def readyz(request: web.Request) -> web.Response:
    ready, checks = await readiness(request.app)
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


OUTBOX_OLDEST = (
    "SELECT extract(epoch FROM now() - created_at) FROM outbox "
    "WHERE published_at IS NULL ORDER BY id LIMIT 1"
)


async def _outbox_lag(app: web.Application) -> None:
    """Sets the outbox gauge where the process has an outbox; a failure leaves it as it was."""
    metrics, pool = app[METRICS], app.get(PG_POOL)
    if pool is None or metrics.has_outbox is False:
        return
    try:
        async with pool.acquire(timeout=READY_CHECK_TIMEOUT_S) as conn:
            if metrics.has_outbox is None:
                found = await conn.fetchval("SELECT to_regclass('outbox') IS NOT NULL")
                metrics.has_outbox = bool(found)
                if not found:
                    return
            age = await conn.fetchval(OUTBOX_OLDEST, timeout=READY_CHECK_TIMEOUT_S)
    except Exception as exc:  # a scrape must answer even when PostgreSQL does not
        log.warning("outbox lag not measured: %r", exc)
        return
    metrics.outbox_lag.set(float(age or 0.0))


async def metrics(request: web.Request) -> web.Response:
    await _outbox_lag(request.app)
    for hook in request.app[METRICS].scrape_hooks:
        try:
            await hook(request.app)
        except Exception as exc:  # a scrape answers with what it has
            log.warning("metrics hook %r failed: %r", hook, exc)
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def add_operational_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
