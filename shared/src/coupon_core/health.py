"""/healthz, /readyz and /metrics, the same on every process (see coupon_core.metrics)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from aiohttp import web

from coupon_core.http import json_response
from coupon_core.keys import METRICS, MIGRATIONS, PG_POOL, REDIS

log = logging.getLogger(__name__)

# How long a check of one data store may take. /readyz and /metrics wait for the stores
# together, so both answer within about this long (the probes' timeoutSeconds is 3).
READY_CHECK_TIMEOUT_S = 1.0


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


async def _outcome(check: Awaitable[str]) -> str:
    try:
        return await check
    except Exception as exc:  # any failure means the store does not answer; say how
        return f"error: {type(exc).__name__}"


async def store_states(app: web.Application) -> dict[str, str]:
    """Whether each data store of this process answers now: ``"ok"`` or ``"error: ..."``
    (a store the process has none of is left out), checked together, each within
    ``READY_CHECK_TIMEOUT_S``. Also sets ``store_up{store=...}``."""
    checks = (("postgres", _check_postgres), ("redis", _check_redis))
    outcomes = await asyncio.gather(*(_outcome(check(app)) for _, check in checks))
    states = {name: state for (name, _), state in zip(checks, outcomes, strict=True)}
    states = {name: state for name, state in states.items() if state != "absent"}
    for name, state in states.items():
        app[METRICS].store_up.labels(name).set(1.0 if state == "ok" else 0.0)
    return states


async def _check_migrations(app: web.Application) -> str:
    """Not ready while the database lacks a migration this code expects (a migration Job
    that has not run yet): the process would fail on the first query that needs it. Once
    every migration was seen applied PostgreSQL is not asked again (migrations are never
    undone), so an outage of PostgreSQL later does not make the process unready."""
    migrations, pool = app.get(MIGRATIONS), app.get(PG_POOL)
    if migrations is None or pool is None:
        return "absent"
    if migrations.seen_applied:
        return "ok"
    async with pool.acquire(timeout=READY_CHECK_TIMEOUT_S) as conn:
        pending = await migrations.pending(conn)
    if pending:
        return "pending: " + ", ".join(pending)
    migrations.seen_applied = True
    return "ok"


async def readiness(app: web.Application) -> tuple[bool, dict[str, str]]:
    """Whether this process can serve, and why not (SPEC section 8): it has started (so its
    pools are made: requests are served only after every cleanup context has run its
    start) and its database has every migration it ships. Not whether the shared stores
    answer: a store outage would make every pod of every service unready at once, and
    clients would get refused connections instead of a 503 each (:func:`store_states`)."""
    checks = {"migrations": await _outcome(_check_migrations(app))}
    return all(value in ("ok", "absent") for value in checks.values()), checks


async def readyz(request: web.Request) -> web.Response:
    ready, checks = await readiness(request.app)
    stores = await store_states(request.app)
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks, "stores": stores},
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
    await store_states(request.app)
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
