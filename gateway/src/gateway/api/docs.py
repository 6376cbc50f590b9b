"""The platform's API description: ``/openapi.json`` (the gateway's own operations merged with
each service's) and ``/docs`` (Swagger UI, served from the installed ``swagger_ui_bundle``).

Each service's document is fetched from one of its replicas and kept for ``CACHE_TTL_S``; a
service that does not answer contributes its last fetched document, or nothing yet. Either
way the answer names it in the ``OpenAPI-Unavailable`` header and in
``info.x-unavailable-services``. Every operation's ``security`` follows the gateway's table
(``coupon_core.routes``): public routes none, user endpoints ``userToken``, the rest an
API token as ``bearerAuth`` or ``basicAuth``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from coupon_core.http import json_response
from coupon_core.keys import HTTP_SESSION
from coupon_core.openapi import (
    DOCUMENT_PATH,
    Doc,
    build_document,
    documented,
    error_answer,
    merge_documents,
)
from coupon_core.routes import PLATFORM, PUBLIC_PATHS, PUBLIC_ROUTES, USER_TEMPLATES
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from gateway.keys import ROUTER

log = logging.getLogger(__name__)

TITLE = "Coupon platform"
CACHE_TTL_S = 30.0
FETCH_TIMEOUT_S = 2.0
UNAVAILABLE_HEADER = "OpenAPI-Unavailable"
DOCS_PATH = "/docs"
ASSETS_PREFIX = "/docs/assets"
# Browsers ask for it on every page of the site; the bundle's own icon, public.
FAVICON_PATH = "/favicon.ico"
FAVICON_FILE = Path(swagger_ui_path) / "favicon-32x32.png"

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token: 'Authorization: Bearer <token>'.",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "An API token as Basic credentials: the token's name and its secret.",
    },
    "userToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A user token from POST /api/v1/users/login (user endpoints only).",
    },
}
Security = list[dict[str, list[str]]]
API_TOKEN: Security = [{"bearerAuth": []}, {"basicAuth": []}]
USER_TOKEN: Security = [{"userToken": []}]


def security_for(method: str, path: str, template: str | None) -> Security:
    if path in PUBLIC_PATHS or (method, template) in PUBLIC_ROUTES:
        return []
    if template in USER_TEMPLATES:
        return USER_TOKEN
    return API_TOKEN


@dataclass
class Fetched:
    document: dict[str, Any]
    at: float


@dataclass
class DocumentCache:
    """Each service's last document, and when it was fetched (monotonic clock)."""

    ttl_s: float = CACHE_TTL_S
    parts: dict[str, Fetched] = field(default_factory=dict)


DOCUMENTS = web.AppKey("openapi_documents", DocumentCache)


async def _fetch(session: aiohttp.ClientSession, urls: list[str]) -> dict[str, Any] | None:
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    for base in urls:
        try:
            async with session.get(base + DOCUMENT_PATH, timeout=timeout) as response:
                if response.status == 200:
                    found = await response.json()
                    if isinstance(found, dict):
                        return found
                log.warning("%s%s answered %s", base, DOCUMENT_PATH, response.status)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("cannot fetch %s%s: %r", base, DOCUMENT_PATH, exc)
    return None


async def _service_parts(app: web.Application) -> tuple[list[dict[str, Any]], list[str]]:
    cache = app[DOCUMENTS]
    now = time.monotonic()
    upstreams = app[ROUTER].upstreams
    due = [n for n in upstreams if n not in cache.parts or now - cache.parts[n].at > cache.ttl_s]
    fetched = await asyncio.gather(
        *(_fetch(app[HTTP_SESSION], upstreams[name].attempts()) for name in due)
    )
    unavailable = []
    for name, document in zip(due, fetched, strict=True):
        if document is None:
            unavailable.append(name)
        else:
            cache.parts[name] = Fetched(document, now)
    parts = [cache.parts[name].document for name in upstreams if name in cache.parts]
    return parts, sorted(unavailable)


# What the gateway itself may answer before an operation runs (SPEC section 2).
EDGE_ANSWERS = {
    401: "no credentials, or (login) a wrong email or password",
    403: "credentials invalid, expired, revoked, of the wrong kind or not whitelisted here",
    429: "over the rate limit: see Retry-After and the RateLimit-* headers",
}


def _with_edge_answers(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The operation's answers and, in its family's envelope, the gateway's own: 429 for
    every operation, 401 and 403 for those that need credentials."""
    statuses = EDGE_ANSWERS if operation["security"] else {429: EDGE_ANSWERS[429]}
    edge = {str(s): error_answer(path, s, text) for s, text in statuses.items()}
    answers = {**edge, **operation["responses"]}
    return dict(sorted(answers.items(), key=lambda item: (item[0] == "default", item[0])))


def platform_document(
    own: dict[str, Any], parts: list[dict[str, Any]], unavailable: list[str]
) -> dict[str, Any]:
    merged = merge_documents(own, parts)
    for path, item in merged["paths"].items():
        template = PLATFORM.template_for(path)
        for method, operation in item.items():
            operation["security"] = security_for(method.upper(), path, template)
            operation["responses"] = _with_edge_answers(path, operation)
    merged["components"]["securitySchemes"] = SECURITY_SCHEMES
    merged["info"] = {
        "title": TITLE,
        "version": own["info"]["version"],
        "description": "Every operation of the platform, as served through the gateway.",
    }
    if unavailable:
        merged["info"]["x-unavailable-services"] = unavailable
        merged["info"]["description"] += (
            " Not answering when this document was built (their operations may be missing"
            f" or out of date): {', '.join(unavailable)}."
        )
    return merged


async def openapi_document(request: web.Request) -> web.Response:
    own = build_document(request.app, title=TITLE)
    parts, unavailable = await _service_parts(request.app)
    response = json_response(platform_document(own, parts, unavailable))
    if unavailable:
        response.headers[UNAVAILABLE_HEADER] = ", ".join(unavailable)
    return response


INDEX_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Coupon platform API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
      deepLinking: true, persistAuthorization: true});
  </script>
</body>
</html>
"""


@documented(
    Doc(
        summary="Interactive API documentation (Swagger UI)",
        tags=("documentation",),
        responses={200: "an HTML page that loads /openapi.json"},
        response_content_type="text/html",
        security=(),
    )
)
async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=INDEX_HTML, content_type="text/html")


@documented(
    Doc(
        summary="The site icon browsers request (a PNG)",
        tags=("documentation",),
        responses={200: "a 32x32 PNG image"},
        response_content_type="image/png",
        security=(),
    )
)
async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(FAVICON_FILE, headers={"Cache-Control": "public, max-age=86400"})


def add_docs_routes(app: web.Application) -> None:
    """Before the proxy's catch-all route; every path is public (see the auth middleware)."""
    app[DOCUMENTS] = DocumentCache()
    app.router.add_get(DOCUMENT_PATH, openapi_document)
    app.router.add_get(DOCS_PATH, docs_page)
    app.router.add_get(FAVICON_PATH, favicon)
    app.router.add_static(ASSETS_PREFIX, Path(swagger_ui_path))
