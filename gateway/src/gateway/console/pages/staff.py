"""Console pages: staff accounts (docs/console.md). The list (by email), a new account
(email, name, role, password twice), an account's page to change its name, role, password
or whether it is active, and disabling it after a confirmation page. The API's refusals
(the last active admin, a role beyond the caller's own) are shown in words. Data through
``/api/v1/staff`` and ``/api/v1/staff-roles`` only."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.admin_common import numbered_url, refusal, text_of
from gateway.console.pages.listing import form_page, page_number, page_size, require_action, when
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, checked_form, require_staff
from gateway.domain.whitelist import WILDCARD, beyond

LIST = "/api/v1/staff"
ONE = "/api/v1/staff/{id}"
ROLES = "/api/v1/staff-roles"
FIELDS = {"email", "name", "role", "password", "passwordConfirmation", "active"}
# Refusals that name no field, put on the field they are about.
CODES = {"role_exceeds_caller": "role", "staff_exists": "email"}
_DIGITS = re.compile(r"\d{1,18}")


def _staff_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not _DIGITS.fullmatch(text):
        raise web.HTTPNotFound(text=f"There is no staff account {text}.")
    return int(text)


async def _roles(api: ConsoleApi, staff: StaffContext) -> list[dict[str, Any]]:
    """The roles, each with what it reaches and whether this caller may give it (only a
    role within the caller's own whitelist)."""
    found = await api.get(ROLES)
    roles = []
    for role in found.get("items", []):
        whitelist = role.get("whitelist", [])
        reach = "every endpoint" if WILDCARD in whitelist else f"{len(whitelist)} endpoints"
        roles.append(
            {
                **role,
                "label": f"{role['name']} ({reach})",
                "grantable": not beyond(staff.caller.whitelist, whitelist),
            }
        )
    return roles


def _role_options(roles: list[dict[str, Any]], current: str = "") -> list[tuple[str, str]]:
    return [(r["name"], r["label"]) for r in roles if r["grantable"] or r["name"] == current]


def _password(form: MultiDictProxy[Any], errors: dict[str, str], *, required: bool) -> str:
    """The password typed twice; a mismatch (or none where one is needed) is an error."""
    password = form.get("password", "")
    again = form.get("passwordConfirmation", "")
    password = password if isinstance(password, str) else ""
    if required and not password:
        errors["password"] = "Give the account a password."  # noqa: S105 (a message)
    elif password != again:
        errors["passwordConfirmation"] = "The two passwords differ: type the same one twice."
    return password


async def list_staff(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    email = request.query.get("email", "").strip()
    params = {"page": page_number(request), "limit": page_size(request), "email": email}
    found = await ConsoleApi(request, staff).get(LIST, params=params)
    paging = found.get("pagination", {})
    return render(
        request,
        "staff/list.html",
        staff=staff,
        title="Staff accounts",
        accounts=found.get("items", []),
        email=email,
        page=paging.get("page", 1),
        pages=paging.get("pages", 1),
        total=paging.get("total", 0),
        pages_url=numbered_url(request),
        may_create=staff.may("POST", LIST),
        when=when,
    )


def _new_page(
    request: web.Request,
    staff: StaffContext,
    roles: list[dict[str, Any]],
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "staff/new.html",
        status=status,
        title="New staff account",
        roles=roles,
        role_options=_role_options(roles),
        values=values,
        errors=errors,
        message=message,
    )


async def new_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", LIST, "create staff accounts")
    roles = await _roles(ConsoleApi(request, staff), staff)
    return _new_page(request, staff, roles, values={"role": "support"})


async def create(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    api = ConsoleApi(request, staff)
    values = {name: text_of(form, name) for name in ("email", "name", "role")}
    errors: dict[str, str] = {}
    if not values["email"]:
        errors["email"] = "Give the email the account signs in with."
    password = _password(form, errors, required=True)
    message, status = None, 400
    if not errors:
        body: dict[str, Any] = {**values, "password": password}
        if not values["name"]:
            del body["name"]
        try:
            account = await api.post(LIST, json=body)
        except ApiError as exc:
            if exc.status not in (400, 403, 409):
                raise
            errors, message = refusal(exc, FIELDS, CODES)
            status = exc.status
        else:
            flash = f"Staff account {account['email']} created ({account['role']})."
            return redirect(request, f"/console/staff/{account['id']}", flash=flash)
    roles = await _roles(api, staff)
    return _new_page(
        request, staff, roles, values=values, errors=errors, message=message, status=status
    )


def _detail_page(
    request: web.Request,
    staff: StaffContext,
    account: dict[str, Any],
    roles: list[dict[str, Any]],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    shown = values or {
        "name": account.get("name") or "",
        "role": account["role"],
        "active": "true" if account["active"] else "",
    }
    return form_page(
        request,
        staff,
        "staff/detail.html",
        status=status,
        title=f"Staff account {account['email']}",
        account=account,
        roles=roles,
        role_options=_role_options(roles, account["role"]),
        values=shown,
        errors=errors,
        message=message,
        may_edit=staff.may("PATCH", ONE),
        may_disable=staff.may("DELETE", ONE) and account["active"],
        is_self=account["id"] == _own_id(staff),
        when=when,
    )


def _own_id(staff: StaffContext) -> int | None:
    own = staff.caller.principal.id
    return int(own) if own.isdigit() else None


async def detail(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    api = ConsoleApi(request, staff)
    account = await api.get(f"{LIST}/{_staff_id(request)}")
    return _detail_page(request, staff, account, await _roles(api, staff))


def _changes(account: dict[str, Any], values: dict[str, str], password: str) -> dict[str, Any]:
    """The PATCH body: only what the form changed (so the audit log shows just that)."""
    body: dict[str, Any] = {}
    if values["name"] != (account.get("name") or ""):
        body["name"] = values["name"] or None
    if values["role"] and values["role"] != account["role"]:
        body["role"] = values["role"]
    active = values["active"] != ""
    if active != account["active"]:
        body["active"] = active
    if password:
        body["password"] = password
    return body


async def save(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    staff_id = _staff_id(request)
    api = ConsoleApi(request, staff)
    account = await api.get(f"{LIST}/{staff_id}")
    values = {name: text_of(form, name) for name in ("name", "role", "active")}
    errors: dict[str, str] = {}
    password = _password(form, errors, required=False)
    message, status = None, 400
    if not errors:
        body = _changes(account, values, password)
        if not body:
            return redirect(request, f"/console/staff/{staff_id}", flash="Nothing to change.")
        try:
            saved = await api.patch(f"{LIST}/{staff_id}", json=body)
        except ApiError as exc:
            if exc.status not in (400, 403, 409):
                raise
            errors, message = refusal(exc, FIELDS, CODES)
            status = exc.status
        else:
            flash = f"Staff account {saved['email']} saved."
            if {"role", "password"} & body.keys() or body.get("active") is False:
                flash += " Its sessions have ended: it signs in again."
            return redirect(request, f"/console/staff/{staff_id}", flash=flash)
    roles = await _roles(api, staff)
    return _detail_page(
        request,
        staff,
        account,
        roles,
        values=values,
        errors=errors,
        message=message,
        status=status,
    )


def _disable_page(
    request: web.Request,
    staff: StaffContext,
    account: dict[str, Any],
    *,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "staff/disable.html",
        staff=staff,
        status=status,
        title=f"Disable {account['email']}?",
        account=account,
        message=message,
        is_self=account["id"] == _own_id(staff),
    )


async def disable_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "DELETE", ONE, "disable staff accounts")
    account = await ConsoleApi(request, staff).get(f"{LIST}/{_staff_id(request)}")
    return _disable_page(request, staff, account)


async def disable(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await checked_form(request, staff)
    staff_id = _staff_id(request)
    api = ConsoleApi(request, staff)
    try:
        account = await api.delete(f"{LIST}/{staff_id}")
    except ApiError as exc:
        if exc.status not in (403, 409):
            raise
        account = await api.get(f"{LIST}/{staff_id}")
        return _disable_page(request, staff, account, message=exc.message, status=exc.status)
    flash = f"Staff account {account['email']} disabled; its sessions have ended."
    return redirect(request, f"/console/staff/{staff_id}", flash=flash)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/staff", list_staff)
    router.add_get("/console/staff/new", new_form)
    router.add_post("/console/staff/new", create)
    router.add_get("/console/staff/{id}", detail)
    router.add_post("/console/staff/{id}", save)
    router.add_get("/console/staff/{id}/disable", disable_form)
    router.add_post("/console/staff/{id}/disable", disable)
