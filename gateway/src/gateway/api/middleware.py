"""Authentication, authorization and rate limits at the edge, before any handler or proxy."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from coupon_core.keys import PG_POOL, PRINCIPAL, ROUTE_LABEL
from coupon_core.metrics import UNMATCHED_ROUTE
from coupon_core.routes import PUBLIC_PATHS, PUBLIC_PREFIXES, UNMETERED_IN_OUTAGE
from redis.exceptions import RedisError

from gateway.domain.addresses import UNKNOWN
from gateway.keys import (
    CALLER,
    CREDENTIAL,
    FORWARDED_CHAIN,
    GATEKEEPER,
    RATE_WINDOW,
    ROUTE_MATCH,
    SETTINGS,
)

log = logging.getLogger(__name__)


def forwarded_chain(request: web.Request) -> list[str]:
    """The client address and the trusted proxies it came through, as far as the gateway can
    vouch for them: client first, the TCP peer last (domain/addresses.py). Worked out once a
    request: the edge checks and the proxy's X-Forwarded-For both read it."""
    chain = request.get(FORWARDED_CHAIN)
    if chain is None:
        chain = request[FORWARDED_CHAIN] = _chain(request)
    return chain


def _chain(request: web.Request) -> list[str]:
    proxies = request.app[GATEKEEPER].proxies
    if not proxies:
        return [request.remote or UNKNOWN]
    if request.app[SETTINGS].trusted_proxy_header == "Forwarded":
        forwarded = [element.get("for", "") for element in request.forwarded]
    else:
        forwarded = [
            entry
            for value in request.headers.getall("X-Forwarded-For", ())
            for entry in value.split(",")
        ]
    return proxies.chain(request.remote, forwarded)


def client_address(request: web.Request) -> str:
    """What per-address limits count against: the real client, behind trusted proxies."""
    return forwarded_chain(request)[0]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    gatekeeper = request.app[GATEKEEPER]
    address = client_address(request)
    match = gatekeeper.routes.match(request.path)
    request[ROUTE_MATCH] = match  # the proxy forwards by the same match
    template = match.template
    # Counted under the template (whitelists' endpoints), not the catch-all proxy route.
    request[ROUTE_LABEL] = template or UNMATCHED_ROUTE
    if gatekeeper.is_public(request.method, template):
        request[RATE_WINDOW] = await gatekeeper.admit_anonymous(address)
        return await handler(request)
    credential, caller = await gatekeeper.authenticate(
        request.app[PG_POOL], request.headers.get("Authorization"), address
    )
    gatekeeper.authorize(caller, request.method, request.path, template)
    window = gatekeeper.admit_leased(caller)
    if window is None:
        try:
            window = await gatekeeper.admit(caller)
        except RedisError as exc:
            if (request.method, template) not in UNMETERED_IN_OUTAGE:
                raise
            log.warning("rate limit not checked for %s %s: %r", request.method, template, exc)
    if window is not None:
        request[RATE_WINDOW] = window
    request[CALLER] = caller
    request[CREDENTIAL] = credential
    request[PRINCIPAL] = caller.principal
    return await handler(request)


async def rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    window = request.get(RATE_WINDOW)
    if window is not None and "RateLimit-Limit" not in response.headers:
        response.headers.update(window.headers())
