"""``GET /api/v1/status``: the readiness of the gateway and of every service replica behind
it (migrations) and whether each one's data stores answer, as one report for operators and
``couponctl doctor``. Served during a Redis outage too (see ``gateway.api.middleware``)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from coupon_core.health import readiness, store_states
from coupon_core.http import json_response
from coupon_core.keys import HTTP_SESSION
from coupon_core.openapi import Doc, documented

from gateway.api.schemas import PlatformStatusOut, ProcessStatusOut, dump
from gateway.keys import ROUTER

PROBE_TIMEOUT_S = 3.0


async def _replica(session: aiohttp.ClientSession, name: str, url: str) -> ProcessStatusOut:
    try:
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
        async with session.get(url + "/readyz", timeout=timeout) as response:
            body: Any = await response.json(content_type=None)
            checks = body.get("checks") if isinstance(body, dict) else None
            stores = body.get("stores", {}) if isinstance(body, dict) else None
            if not isinstance(checks, dict) or not isinstance(stores, dict):
                raise ValueError("not a readiness report")
            return ProcessStatusOut(
                process=name,
                url=url,
                ready=response.status == 200,
                checks={str(k): str(v) for k, v in checks.items()},
                stores={str(k): str(v) for k, v in stores.items()},
            )
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return ProcessStatusOut(
            process=name, url=url, ready=False, checks={"reachable": f"error: {exc!r}"[:200]}
        )


async def _gateway(app: web.Application) -> ProcessStatusOut:
    ready, checks = await readiness(app)
    stores = await store_states(app)
    return ProcessStatusOut(process="gateway", ready=ready, checks=checks, stores=stores)


@documented(
    Doc(
        summary="Readiness of the gateway and of every service replica",
        description=(
            "Each process's readiness (migrations) and whether its data stores answer, as "
            "its /readyz reports them; a replica that does not answer within 3 s is reported "
            "unreachable. 'degraded' when any process is not ready or any store does not "
            "answer."
        ),
        tags=("platform",),
        responses={200: PlatformStatusOut},
        security=("bearerAuth", "basicAuth"),
    )
)
async def platform_status(request: web.Request) -> web.Response:
    session = request.app[HTTP_SESSION]
    replicas = [
        _replica(session, upstream.name, url)
        for upstream in request.app[ROUTER].upstreams.values()
        for url in upstream.urls
    ]
    processes = await asyncio.gather(_gateway(request.app), *replicas)
    healthy = all(p.ready and all(v == "ok" for v in p.stores.values()) for p in processes)
    status = "ready" if healthy else "degraded"
    return json_response(dump(PlatformStatusOut(status=status, processes=list(processes))))


def add_status_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/status", platform_status)
