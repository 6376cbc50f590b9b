"""/healthz, /readyz and /metrics, the same on every process."""

from __future__ import annotations

import asyncio

from aiohttp import web

from coupon_core.http import json_response
from coupon_core.keys import METRICS, PG_POOL, REDIS

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


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    for name, check in (("postgres", _check_postgres), ("redis", _check_redis)):
        try:
            checks[name] = await check(request.app)
        except Exception as exc:  # any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}"
    ready = all(value in ("ok", "absent") for value in checks.values())
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def add_operational_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
