"""Authentication, authorization and rate limits at the edge, before any handler or proxy."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from coupon_core.keys import PG_POOL, PRINCIPAL, ROUTE_LABEL
from coupon_core.metrics import UNMATCHED_ROUTE

from gateway.domain.routes import PUBLIC_PATHS, PUBLIC_PREFIXES
from gateway.keys import CALLER, CREDENTIAL, GATEKEEPER, RATE_WINDOW


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    gatekeeper = request.app[GATEKEEPER]
    address = client_address(request)
    template = gatekeeper.template(request.path)
    # Counted under the template (whitelists' endpoints), not the catch-all proxy route.
    request[ROUTE_LABEL] = template or UNMATCHED_ROUTE
    if gatekeeper.is_public(request.method, template):
        request[RATE_WINDOW] = await gatekeeper.admit_anonymous(address)
        return await handler(request)
    credential, caller = await gatekeeper.authenticate(
        request.app[PG_POOL], request.headers.get("Authorization"), address
    )
    gatekeeper.authorize(caller, request.method, request.path, template)
    request[RATE_WINDOW] = await gatekeeper.admit(caller)
    request[CALLER] = caller
    request[CREDENTIAL] = credential
    request[PRINCIPAL] = caller.principal
    return await handler(request)


async def rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    window = request.get(RATE_WINDOW)
    if window is not None and "RateLimit-Limit" not in response.headers:
        response.headers.update(window.headers())
