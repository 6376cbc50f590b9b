"""Recording the audit log: what a change was, who made it, the resource before it and the
answer after it (SPEC section 11; what is recorded: :mod:`gateway.domain.audit`).

One middleware, after authentication, records for every handler: the gateway's own
(``/api/v1/api-tokens``, ``/api/v1/users``, ``/api/v1/staff``) and the proxy alike. It is
the one place that sees a request with its caller, its template and its final answer,
whichever handler served it, so the rules are written once; the proxy only hands over the
upstream's whole answer instead of streaming it (``WHOLE_ANSWER``, looked at only for
answers large enough to stream). Every other request passes after one set lookup of
(method, template, principal kind): the checkout traffic and every read cost nothing more.

For a recorded request:

1. ``before``: a PUT, PATCH or DELETE whose template a GET also reads is read first, as that
   GET answers it: from the same service, signed for the same caller (not counted against
   its rate limit or whitelist: what it reads goes only to the admins' log); for the
   gateway's own endpoints, by the GET's own handler. A read that fails leaves ``before``
   empty (logged); the change goes ahead.
2. The handler runs. Only a 2xx answer is recorded.
3. The record (request body and answer, secrets redacted) is written, then the answer sent.
   A record that cannot be written does not undo or refuse the change, which is made: it is
   logged at error level with the request id and counted in
   ``gateway_audit_write_failures_total`` (docs/operations.md, "Audit log").
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from coupon_core.errors import DomainError
from coupon_core.identity import IDENTITY_HEADER, Principal, sign_identity
from coupon_core.keys import HTTP_SESSION, METRICS, PG_POOL, REQUEST_ID
from coupon_core.metrics import Family
from coupon_core.turns import NoTurn

from gateway.db import audit as audit_db
from gateway.domain.audit import AUDITED, READ_BEFORE, READABLE, redact, target_of, via
from gateway.keys import CALLER, PROXY_CONFIG, ROUTE_MATCH, ROUTER, SETTINGS, WHOLE_ANSWER
from gateway.routing import forward_url

log = logging.getLogger(__name__)

AUDIT_WRITE_FAILURES = Family(
    "gateway_audit_write_failures_total",
    "Audit records that could not be written (the change itself was made and answered).",
)


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    caller = request.get(CALLER)
    if caller is None:  # a public endpoint, or a path the edge checks do not cover
        return await handler(request)
    template = request[ROUTE_MATCH].template
    principal = caller.principal
    if (request.method, template, principal.kind) not in AUDITED or template is None:
        return await handler(request)
    before = None
    if request.method in READ_BEFORE and template in READABLE:
        before = await _read_before(request, principal)
    request[WHOLE_ANSWER] = True
    response = await handler(request)
    if 200 <= response.status < 300:
        await _record(request, principal, template, response, before)
    return response


def _json(raw: bytes) -> Any:
    """``raw`` parsed and redacted; None when it is empty or not JSON."""
    if not raw.strip():
        return None
    try:
        return redact(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return None


def _answer(response: web.StreamResponse) -> Any:
    """The body of an answer handed over whole; None for one already streamed out (larger
    than MAX_BODY_BYTES, or without a length)."""
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return _json(response.body)
    return None


async def _request_body(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    try:
        # The handler or the proxy has read it already: these are its bytes again.
        return _json(await request.read())
    except web.HTTPException:  # a body past MAX_BODY_BYTES that nobody read
        return None


async def _read_before(request: web.Request, principal: Principal) -> Any:
    if request[ROUTE_MATCH].upstream is None:
        return await _read_local(request)
    return await _read_upstream(request, principal)


async def _read_local(request: web.Request) -> Any:
    """What the gateway's own GET of the same path answers (its handler, called here)."""
    reading = request.clone(method="GET")
    found = await request.app.router.resolve(reading)
    if found.http_exception is not None:
        return None
    try:
        return _answer(await found.handler(reading))
    except (DomainError, web.HTTPException) as exc:
        status = exc.status if isinstance(exc, DomainError) else exc.status_code
        if status != 404:  # a 404 is nothing before the change (which then fails too)
            log.warning("audit: reading %s before the change failed: %r", request.path, exc)
        return None


async def _read_upstream(request: web.Request, principal: Principal) -> Any:
    """The service's answer to a GET of the same path, signed for the same caller."""
    app = request.app
    upstream = app[ROUTER].resolve(request[ROUTE_MATCH])
    if upstream is None:
        return None
    config = app[PROXY_CONFIG]
    path = request.rel_url.raw_path
    headers = {
        IDENTITY_HEADER: sign_identity(
            principal, method="GET", path=path, query="", body=b"", secret=config.secret
        ),
        "X-Request-ID": request[REQUEST_ID],
        "Accept": "application/json",
    }
    timeout = aiohttp.ClientTimeout(
        total=config.timeout_s, sock_connect=app[SETTINGS].upstream_connect_timeout_s
    )
    try:
        await upstream.in_flight.take()
    except NoTurn:
        log.warning("audit: no turn to read %s before the change; recorded without", path)
        return None
    try:
        for base in upstream.replicas():
            try:
                async with app[HTTP_SESSION].get(
                    forward_url(base, path, ""),
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                ) as answer:
                    if answer.status == 200:
                        return _json(await answer.read())
                    if answer.status >= 500:
                        log.warning("audit: reading %s before the change: %d", path, answer.status)
                    return None
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # Not taken (refused, or not in time): the next replica.
                log.warning("audit: %s did not take the read of %s: %r", base, path, exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("audit: reading %s before the change failed: %r", path, exc)
                return None
    finally:
        upstream.in_flight.give_back()
    return None


async def _record(
    request: web.Request,
    principal: Principal,
    template: str,
    response: web.StreamResponse,
    before: Any,
) -> None:
    path = request.path
    entry = audit_db.Entry(
        actor_kind=principal.kind,
        actor_id=principal.id,
        actor_name=principal.name,
        via=via(principal.kind),
        method=request.method,
        template=template,
        path=path,
        target=target_of(template, path),
        status=response.status,
        request_body=await _request_body(request),
        before=before,
        after=_answer(response),
        request_id=request[REQUEST_ID],
    )
    try:
        await audit_db.insert(request.app[PG_POOL], entry)
    # Whatever the failure, the change was made: its answer still goes out, and the missing
    # record is reported here, loudly.
    except Exception:
        request.app[METRICS].counter(AUDIT_WRITE_FAILURES).inc()
        log.exception(
            "audit record of %s %s by %s %s NOT written (request %s)",
            request.method,
            path,
            principal.kind,
            principal.name,
            request[REQUEST_ID],
        )


def install_audit(app: web.Application) -> None:
    """The failure counter, exported from the start (0 until a write fails)."""
    app[METRICS].counter(AUDIT_WRITE_FAILURES)
