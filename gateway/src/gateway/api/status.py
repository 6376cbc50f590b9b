"""``GET /api/v1/status``: the readiness of the gateway and of every service replica behind
it (data stores and migrations), as one report for operators and ``couponctl doctor``."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from coupon_core.health import readiness
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
            if not isinstance(checks, dict):
                raise ValueError("not a readiness report")
            return ProcessStatusOut(
                process=name,
                url=url,
                ready=response.status == 200,
                checks={str(k): str(v) for k, v in checks.items()},
            )
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return ProcessStatusOut(
            process=name, url=url, ready=False, checks={"reachable": f"error: {exc!r}"[:200]}
        )


@documented(
    Doc(
        summary="Readiness of the gateway and of every service replica",
        description=(
            "Each process's data stores and migrations, as its /readyz reports them; a "
            "replica that does not answer within 3 s is reported unreachable. 'degraded' "
            "when any process is not ready."
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
    ready, checks = await readiness(request.app)
    processes = [
        ProcessStatusOut(process="gateway", ready=ready, checks=checks),
        *await asyncio.gather(*replicas),
    ]
    status = "ready" if all(p.ready for p in processes) else "degraded"
    return json_response(dump(PlatformStatusOut(status=status, processes=processes)))


def add_status_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/status", platform_status)
