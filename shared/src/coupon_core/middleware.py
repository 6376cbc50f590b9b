"""The middlewares every process runs, outermost first: request id, metrics, errors, identity."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import RedisError

from coupon_core.errors import (
    BadRequest,
    DomainError,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from coupon_core.families import error_body, family_for_path
from coupon_core.http import MAX_BODY_BYTES, NUL, NUL_MESSAGE, json_response
from coupon_core.identity import IDENTITY_HEADER, IdentityError, verify_identity
from coupon_core.keys import (
    CORE_SETTINGS,
    METRICS,
    NONCES,
    PRINCIPAL,
    REDIS,
    REQUEST_ID,
    ROUTE_LABEL,
)
from coupon_core.logging import request_id_var
from coupon_core.metrics import UNMATCHED_ROUTE
from coupon_core.paths import path_problem
from coupon_core.replay import NonceBook

log = logging.getLogger(__name__)

# A method label is one of these or OTHER: a client's made-up methods cannot grow the series.
LABELLED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# A store that does not answer is a retryable 503 in the family's envelope, not a 500.
STORE_OUTAGES: tuple[type[BaseException], ...] = (
    RedisError,
    ConnectionError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,  # deadlock or serialization failure: a retry succeeds
)


def error_response(request: web.BaseRequest, err: DomainError) -> web.Response:
    headers = dict(err.headers)
    request_id = request.get(REQUEST_ID, "")
    if request_id:
        headers["X-Request-ID"] = request_id
    return json_response(
        error_body(family_for_path(request.path), err), status=err.status, headers=headers
    )


def _from_http_exception(exc: web.HTTPException) -> DomainError:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
    if exc.status == 404:
        return DomainError("No route matches this URL.", status=404, code="not_found")
    if exc.status == 405:
        return DomainError(
            "Method not allowed for this URL.",
            status=405,
            code="method_not_allowed",
            headers={"Allow": exc.headers.get("Allow", "")},
        )
    return DomainError(exc.reason or "request failed", status=exc.status, code="http_error")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    try:
        response = await handler(request)
    finally:
        request_id_var.reset(token)
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else UNMATCHED_ROUTE
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = request.get(ROUTE_LABEL, route)
        method = request.method if request.method in LABELLED_METHODS else "OTHER"
        metrics.request_served(method, route, status, time.perf_counter() - started)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as err:
        return error_response(request, err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(request, _from_http_exception(exc))
    except web.RequestPayloadError:
        # A body the server cannot decode (a bad chunk or Content-Encoding) is the caller's;
        # the rest of the stream cannot be trusted, so the connection ends with the answer.
        response = error_response(
            request,
            BadRequest("The request body could not be read: bad transfer or content encoding."),
        )
        response.force_close()
        return response
    except asyncio.CancelledError:
        raise
    except STORE_OUTAGES as exc:
        log.warning("store unavailable serving %s %s: %r", request.method, request.path, exc)
        return error_response(
            request,
            ServiceUnavailable(f"A data store is unavailable ({type(exc).__name__}); retry."),
        )
    except Exception:
        log.exception("unhandled error serving %s %s", request.method, request.path)
        request_id = request.get(REQUEST_ID, "")
        internal = DomainError(
            f"Internal error; quote request id {request_id} when reporting it.",
            status=500,
            code="internal_error",
        )
        return error_response(request, internal)


@web.middleware
async def query_text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Query parameters are text inputs like a body's strings: one holding a NUL is a 400
    (PostgreSQL text cannot hold it) before any handler reads it."""
    if NUL in request.query_string:
        names = [name for name, value in request.query.items() if NUL in name or NUL in value]
        where = names[0].replace(NUL, "\\0") if names else "query"
        raise ValidationFailed({where: [NUL_MESSAGE]})
    return await handler(request)


@web.middleware
async def identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Services trust only requests the gateway signed (SPEC section 1)."""
    if request.path in OPERATIONAL_PATHS:
        return await handler(request)
    # The gateway refuses these paths; a service refuses them too, whoever signed them.
    problem = path_problem(request.rel_url.raw_path, request.path)
    if problem is not None:
        raise BadRequest(problem)
    settings = request.app[CORE_SETTINGS]
    # The signature covers the body: read it whole (at most MAX_BODY_BYTES, else 413);
    # handlers reading it again get these bytes.
    body = await request.read()
    try:
        signed = verify_identity(
            request.headers.get(IDENTITY_HEADER),
            method=request.method,
            path=request.rel_url.raw_path,
            query=request.rel_url.raw_query_string,
            body=body,
            secret=settings.identity_secret.get_secret_value().encode(),
            max_age_s=settings.identity_max_age_s,
        )
    except IdentityError as exc:
        raise Unauthorized(f"Requests must come through the gateway: {exc}.") from None
    if not await request.app[NONCES].first_use(signed.nonce):
        raise Unauthorized("Requests must come through the gateway: gateway identity replayed.")
    request[PRINCIPAL] = signed.principal
    return await handler(request)


async def nonce_book_ctx(app: web.Application) -> AsyncIterator[None]:
    """The nonces of accepted identities, shared by every replica through Redis."""
    app[NONCES] = NonceBook(app[REDIS], max_age_s=app[CORE_SETTINGS].identity_max_age_s)
    yield
