"""Console pages: API tokens (docs/console.md). The list, a new token whose whitelist is
picked from every endpoint an API token may be given (the route table's, by service), its
secret shown once, the whitelist and rate limit changed, and revoking it (after a
confirmation page). Data through ``/api/v1/api-tokens`` only."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from coupon_core.routes import GATEWAY, ISSUANCE, PROMOTION, REDEMPTION, WEBHOOK, Access
from multidict import MultiDictProxy

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.admin_common import (
    Choice,
    Group,
    checked,
    numbered_url,
    page_count,
    refusal,
    secret_page,
    text_of,
)
from gateway.console.pages.listing import PAGE_SIZE, form_page, page_number, require_action, when
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, checked_form, require_staff
from gateway.domain.whitelist import WILDCARD
from gateway.keys import GATEKEEPER

LIST = "/api/v1/api-tokens"
ONE = "/api/v1/api-tokens/{id}"
PICK = "whitelist:"
FIELDS = {"name", "rateLimit", "whitelist"}
# Refusals that name no field, put on the field they are about.
CODES = {
    "invalid_whitelist": "whitelist",
    "whitelist_exceeds_caller": "whitelist",
    "name_taken": "name",
}
SERVICES = (
    (GATEWAY, "Gateway: API tokens, staff, audit log, status (CRM)"),
    (PROMOTION, "Promotion service: promotions and their coupons (Sylius)"),
    (ISSUANCE, "Issuance service: customers, series and issue (Capillary v2)"),
    (REDEMPTION, "Redemption service: redeem, redemptions, subscriptions (Capillary, CRM)"),
    (WEBHOOK, "Webhook service: webhook endpoints (CRM)"),
)
_DIGITS = re.compile(r"\d{1,9}")


def picker(request: web.Request, staff: StaffContext) -> list[Group]:
    """Every endpoint an API token may be given, by service, that this staff member may
    grant (a token grants only what its maker reaches); ``*`` for a ``*`` caller."""
    endpoints = [
        e
        for e in request.app[GATEKEEPER].routes.endpoints
        if e.access is Access.API_TOKEN and staff.may(e.method, e.template)
    ]
    groups = []
    if WILDCARD in staff.caller.whitelist:
        everything = Choice(WILDCARD, "wl-all")
        groups.append(Group("Every endpoint, also those added later (*)", (everything,)))
    number = 0
    for service, legend in SERVICES:
        choices = []
        for endpoint in endpoints:
            if endpoint.service == service:
                number += 1
                choices.append(Choice(f"{endpoint.method} {endpoint.template}", f"wl-{number}"))
        if choices:
            groups.append(Group(legend, tuple(choices)))
    return groups


def _token_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not _DIGITS.fullmatch(text):
        raise web.HTTPNotFound(text=f"There is no API token {text}.")
    return int(text)


def _parse(form: MultiDictProxy[Any]) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """The form's values (to show again), the API body, and errors found before any call."""
    values = {"name": text_of(form, "name"), "rateLimit": text_of(form, "rateLimit")}
    body: dict[str, Any] = {"whitelist": checked(form, PICK)}
    errors: dict[str, str] = {}
    if values["rateLimit"]:
        if _DIGITS.fullmatch(values["rateLimit"]):
            body["rateLimit"] = int(values["rateLimit"])
        else:
            errors["rateLimit"] = "Enter a whole number of requests a minute."
    else:
        body["rateLimit"] = None
    return values, body, errors


async def list_tokens(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    found = await ConsoleApi(request, staff).get(LIST)
    tokens = list(reversed(found.get("items", [])))  # newest first
    pages = page_count(len(tokens), PAGE_SIZE)
    page = min(page_number(request), pages)
    return render(
        request,
        "tokens/list.html",
        staff=staff,
        title="API tokens",
        tokens=tokens[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(tokens),
        page=page,
        pages=pages,
        pages_url=numbered_url(request),
        may_create=staff.may("POST", LIST),
        when=when,
    )


def _form_page(
    request: web.Request,
    staff: StaffContext,
    *,
    values: dict[str, str],
    picked: list[str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "tokens/new.html",
        status=status,
        title="New API token",
        values=values,
        groups=picker(request, staff),
        picked=picked,
        errors=errors,
        message=message,
    )


async def new_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", LIST, "create API tokens")
    return _form_page(request, staff, values={}, picked=[])


async def create(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    values, body, errors = _parse(form)
    if errors:
        return _form_page(
            request, staff, values=values, picked=body["whitelist"], errors=errors, status=400
        )
    body["name"] = values["name"]
    if body["rateLimit"] is None:
        del body["rateLimit"]
    try:
        token = await ConsoleApi(request, staff).post(LIST, json=body)
    except ApiError as exc:
        if exc.status not in (400, 403, 409):
            raise
        fields, message = refusal(exc, FIELDS, CODES)
        return _form_page(
            request,
            staff,
            values=values,
            picked=body["whitelist"],
            errors=fields,
            message=message,
            status=exc.status,
        )
    return secret_page(
        request,
        staff,
        title=f"API token {token['name']} created",
        what="The token's secret",
        use="Callers send it as Authorization: Bearer; the platform keeps only a hash of it.",
        secret=token["token"],
        done_url=f"/console/tokens/{token['id']}",
    )


def _detail_page(
    request: web.Request,
    staff: StaffContext,
    token: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    picked: list[str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    rate = token.get("rateLimit")
    return form_page(
        request,
        staff,
        "tokens/detail.html",
        status=status,
        title=f"API token {token['name']}",
        token=token,
        values=values or {"rateLimit": "" if rate is None else str(rate)},
        groups=picker(request, staff),
        picked=token["whitelist"] if picked is None else picked,
        errors=errors,
        message=message,
        may_edit=staff.may("PATCH", ONE) and not token.get("revokedAt"),
        may_revoke=staff.may("DELETE", ONE) and not token.get("revokedAt"),
        when=when,
    )


async def detail(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    token_id = _token_id(request)
    token = await ConsoleApi(request, staff).get(f"{LIST}/{token_id}")
    return _detail_page(request, staff, token)


async def save(request: web.Request) -> web.Response:
    """A new whitelist and rate limit (an empty rate limit: the platform's default)."""
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    token_id = _token_id(request)
    values, body, errors = _parse(form)
    api = ConsoleApi(request, staff)
    message, status = None, 400
    if not errors:
        try:
            saved = await api.patch(f"{LIST}/{token_id}", json=body)
        except ApiError as exc:
            if exc.status not in (400, 403):
                raise
            errors, message = refusal(exc, FIELDS, CODES)
            status = exc.status
        else:
            flash = f"API token {saved['name']} saved."
            return redirect(request, f"/console/tokens/{token_id}", flash=flash)
    token = await api.get(f"{LIST}/{token_id}")
    return _detail_page(
        request,
        staff,
        token,
        values=values,
        picked=body["whitelist"],
        errors=errors,
        message=message,
        status=status,
    )


async def revoke_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "DELETE", ONE, "revoke API tokens")
    token = await ConsoleApi(request, staff).get(f"{LIST}/{_token_id(request)}")
    return render(
        request, "tokens/revoke.html", staff=staff, title=f"Revoke {token['name']}?", token=token
    )


async def revoke(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await checked_form(request, staff)
    token_id = _token_id(request)
    token = await ConsoleApi(request, staff).delete(f"{LIST}/{token_id}")
    flash = f"API token {token['name']} revoked: it is refused from now on."
    return redirect(request, f"/console/tokens/{token_id}", flash=flash)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/tokens", list_tokens)
    router.add_get("/console/tokens/new", new_form)
    router.add_post("/console/tokens/new", create)
    router.add_get("/console/tokens/{id}", detail)
    router.add_post("/console/tokens/{id}", save)
    router.add_get("/console/tokens/{id}/revoke", revoke_form)
    router.add_post("/console/tokens/{id}/revoke", revoke)
