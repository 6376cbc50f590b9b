"""The console: server-rendered pages under /console for staff (docs/console.md).

The pages live in ``pages/`` (one module per area, each with ``add_routes(router)``), the
templates in ``templates/``, the stylesheet and the one script in ``static/``. Every page
reads and changes data through the platform's API (client.py), never the databases.

A page handler, in short::

    async def promotion(request: web.Request) -> web.Response:
        staff = await require_staff(request)            # else: redirect to sign-in
        api = ConsoleApi(request, staff)
        body = await api.get(f"/api/v1/promotions/{quote(code, safe='')}")
        return render(request, "promotions/detail.html", staff=staff, promotion=body)

    async def save(request: web.Request) -> web.Response:   # POST
        staff = await require_staff(request)
        form = await checked_form(request, staff)        # CSRF + same-origin, else 403
        try:
            await api.put(..., json=...)
        except ApiError as exc:
            if exc.status not in (400, 409, 422):
                raise
            return render(request, "x.html", staff=staff, status=exc.status,
                          errors=exc.fields, message=exc.message, form=form)
        return redirect(request, "/console/...", flash="Saved.")

An ApiError (or HTTP error) a handler does not catch becomes an HTML error page with the
API's message (console_middleware); templates may not use inline scripts or style
attributes (the Content-Security-Policy refuses them).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.console.client import ApiError, console_http_ctx
from gateway.console.pages import (
    audit,
    customers,
    dashboard,
    promotions,
    redemptions,
    series,
    sign_in,
    staff,
    tokens,
    webhooks,
)
from gateway.console.render import TEMPLATES, environment, render
from gateway.console.session import CsrfRefused, current_staff

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/console"

# The browser may load only the console's own files: no third-party asset, no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

_PAGES = (
    sign_in,
    dashboard,
    promotions,
    series,
    customers,
    redemptions,
    tokens,
    webhooks,
    staff,
    audit,
)


# An error page's title says what happened, the same whether the console or the API found
# it; the message below it says why.
_TITLES = {
    400: "Not accepted",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
}


def _title(status: int) -> str:
    if status >= 500:
        return "The platform could not answer"
    return _TITLES.get(status, "Not accepted")


def _in_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


async def _error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(
        request,
        "error.html",
        staff=await current_staff(request),
        status=status,
        title=title,
        message=message,
    )


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Console answers are HTML pages, errors included (not the API's JSON envelopes), and
    carry the console's security headers."""
    if not _in_console(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except CsrfRefused as exc:
        response = await _error_page(request, 403, "Request refused", exc.reason)
    except ApiError as exc:
        response = await _error_page(request, exc.status, _title(exc.status), exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            exc.headers.update(SECURITY_HEADERS)
            raise
        message = exc.text or exc.reason
        response = await _error_page(request, exc.status, _title(exc.status), message)
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


async def _not_found(request: web.Request) -> web.Response:
    raise web.HTTPNotFound(text="There is no console page at this address.")


def add_console_routes(app: web.Application) -> None:
    """Wired in app.py, before the proxy's catch-all route."""
    app[TEMPLATES] = environment()
    app.cleanup_ctx.append(console_http_ctx)
    app.middlewares.append(console_middleware)
    router = app.router
    router.add_static(PREFIX + "/static/", STATIC_DIR, name="console_static")
    for page in _PAGES:
        page.add_routes(router)
    router.add_route("*", PREFIX + "/{tail:.*}", _not_found)
