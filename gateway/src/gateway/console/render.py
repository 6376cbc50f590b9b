"""Pages from Jinja2 templates (autoescaped), with what every page shows: the signed-in
staff member, the navigation their role may use, the CSRF token and a flash message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import jinja2
from aiohttp import web

from gateway.console.session import COOKIE_PATH, StaffContext, cookie_secure
from gateway.console.wording import field_label

TEMPLATES = web.AppKey("console_templates", jinja2.Environment)
FLASH_COOKIE = "console_flash"
_FLASH_MAX = 300


@dataclass(frozen=True, slots=True)
class NavEntry:
    label: str
    href: str
    # The API endpoint the page lists from: shown only to roles that may call it.
    method: str
    template: str


NAV = (
    NavEntry("Promotions", "/console/promotions", "GET", "/api/v1/promotions"),
    NavEntry("Series", "/console/series", "GET", "/v2/coupon/series"),
    NavEntry("Customers", "/console/customers", "GET", "/v2/customers/lookup"),
    NavEntry("Redemptions", "/console/redemptions", "GET", "/v2/coupon/redemptions"),
    NavEntry("API tokens", "/console/tokens", "GET", "/api/v1/api-tokens"),
    NavEntry("Webhooks", "/console/webhooks", "GET", "/api/v1/webhooks"),
    NavEntry("Staff", "/console/staff", "GET", "/api/v1/staff"),
    NavEntry("Audit log", "/console/audit", "GET", "/api/v1/audit-log"),
)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gateway.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["urlquote"] = lambda value: quote(str(value), safe="")
    env.filters["field_label"] = field_label
    return env


def nav_for(staff: StaffContext | None, path: str) -> list[dict[str, Any]]:
    if staff is None:
        return []
    entries = [{"label": "Dashboard", "href": "/console", "current": path == "/console"}]
    for entry in NAV:
        if staff.may(entry.method, entry.template):
            current = path == entry.href or path.startswith(entry.href + "/")
            entries.append({"label": entry.label, "href": entry.href, "current": current})
    return entries


def set_flash(request: web.Request, response: web.StreamResponse, message: str) -> None:
    """A message the next page shows once ("Promotion saved.")."""
    response.set_cookie(
        FLASH_COOKIE,
        quote(message[:_FLASH_MAX], safe=""),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=cookie_secure(request),
    )


def redirect(request: web.Request, location: str, *, flash: str | None = None) -> web.Response:
    """POST -> redirect -> GET: 303 to ``location`` (a console path), with a flash message."""
    response = web.Response(status=303, headers={"Location": location})
    if flash:
        set_flash(request, response, flash)
    return response


def render(
    request: web.Request,
    template: str,
    *,
    staff: StaffContext | None,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """The page ``template`` (a path under templates/) as an HTML response."""
    flash = request.cookies.get(FLASH_COOKIE)
    html = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            staff=staff,
            csrf=staff.csrf if staff is not None else context.pop("csrf", ""),
            nav=nav_for(staff, request.path),
            flash=unquote(flash)[:_FLASH_MAX] if flash else None,
            request_path=request.path,
            **context,
        )
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    if flash:
        response.del_cookie(
            FLASH_COOKIE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=cookie_secure(request),
        )
    return response
