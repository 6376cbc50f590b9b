"""Console pages: webhook endpoints (docs/console.md, docs/webhooks.md). The list, a new
endpoint (URL, event types, description) whose signing secret is shown once, its page with
enable/disable, rotating the secret (the new one shown once), a test event, its recent
deliveries and attempts a page at a time, changing it, and deleting it (after a
confirmation page). Data through ``/api/v1/webhooks`` only."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.admin_common import (
    Choice,
    Group,
    checked,
    refusal,
    secret_page,
    text_of,
)
from gateway.console.pages.listing import form_page, page_size, require_action, when
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, checked_form, require_staff

LIST = "/api/v1/webhooks"
ONE = "/api/v1/webhooks/{id}"
EVENT_TYPES = "/api/v1/webhooks/event-types"
PICK = "event:"
FIELDS = {"url", "events", "description", "graceHours"}
CODES = {"unsafe_url": "url"}
LOG_PAGE = 20
SIGNING = "The receiver verifies each delivery's signature with it (docs/webhooks.md, Signatures)."
_DIGITS = re.compile(r"\d{1,18}")


def _hook_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not _DIGITS.fullmatch(text):
        raise web.HTTPNotFound(text=f"There is no webhook endpoint {text}.")
    return int(text)


def _before(request: web.Request, name: str) -> int | None:
    text = request.query.get(name, "")
    return int(text) if _DIGITS.fullmatch(text) and int(text) > 0 else None


async def _event_groups(api: ConsoleApi) -> list[Group]:
    """Every event type an endpoint may subscribe to, and ``*``."""
    found = await api.get(EVENT_TYPES)
    types = [t for t in found.get("eventTypes", []) if t.get("subscribable", True)]
    every = Choice("*", "ev-all", "Alone: every type, also types added later.")
    choices = tuple(
        Choice(t["type"], f"ev-{n}", t.get("description", "")) for n, t in enumerate(types, 1)
    )
    return [Group("Every event type", (every,)), Group("Event types", choices)]


async def list_hooks(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    limit = page_size(request)
    after = _before(request, "after") or 0
    found = await ConsoleApi(request, staff).get(LIST, params={"after": after, "limit": limit})
    hooks = found.get("webhooks", [])
    next_url = f"/console/webhooks?after={hooks[-1]['id']}" if len(hooks) == limit else None
    return render(
        request,
        "webhooks/list.html",
        staff=staff,
        title="Webhook endpoints",
        hooks=hooks,
        next_url=next_url,
        first_url="/console/webhooks" if after else None,
        may_create=staff.may("POST", LIST),
        when=when,
    )


def _parse(form: MultiDictProxy[Any]) -> tuple[dict[str, str], list[str], dict[str, Any]]:
    values = {"url": text_of(form, "url"), "description": text_of(form, "description")}
    events = checked(form, PICK)
    return values, events, {**values, "events": events}


async def _form_page(
    request: web.Request,
    staff: StaffContext,
    api: ConsoleApi,
    *,
    hook_id: int | None,
    values: dict[str, str],
    events: list[str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "webhooks/form.html",
        status=status,
        title=f"Change webhook endpoint {hook_id}" if hook_id else "New webhook endpoint",
        hook_id=hook_id,
        values=values,
        groups=await _event_groups(api),
        picked=events,
        errors=errors,
        message=message,
    )


async def new_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", LIST, "create webhook endpoints")
    api = ConsoleApi(request, staff)
    return await _form_page(request, staff, api, hook_id=None, values={}, events=[])


async def edit_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "PATCH", ONE, "change webhook endpoints")
    hook_id = _hook_id(request)
    api = ConsoleApi(request, staff)
    hook = await api.get(f"{LIST}/{hook_id}")
    values = {"url": hook["url"], "description": hook.get("description", "")}
    return await _form_page(
        request, staff, api, hook_id=hook_id, values=values, events=hook["events"]
    )


async def save(request: web.Request) -> web.Response:
    """Create (``/console/webhooks/new``) or change (``.../{id}/edit``) an endpoint."""
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    hook_id = _hook_id(request) if "id" in request.match_info else None
    values, events, body = _parse(form)
    api = ConsoleApi(request, staff)
    try:
        if hook_id is None:
            hook = await api.post(LIST, json=body)
        else:
            hook = await api.patch(f"{LIST}/{hook_id}", json=body)
    except ApiError as exc:
        if exc.status not in (400, 403):
            raise
        errors, message = refusal(exc, FIELDS, CODES)
        return await _form_page(
            request,
            staff,
            api,
            hook_id=hook_id,
            values=values,
            events=events,
            errors=errors,
            message=message,
            status=exc.status,
        )
    path = f"/console/webhooks/{hook['id']}"
    if hook_id is not None:
        return redirect(request, path, flash=f"Webhook endpoint {hook_id} saved.")
    return secret_page(
        request,
        staff,
        title=f"Webhook endpoint {hook['id']} created",
        what="The signing secret",
        use=SIGNING,
        secret=hook["secret"],
        done_url=path,
    )


def _log_url(request: web.Request, name: str, before: int | None) -> str:
    """This page with the ``name`` list from ``before`` (None: its newest) and the other
    list where it is."""
    query = {k: v for k, v in request.query.items() if k != name}
    if before is not None:
        query[name] = str(before)
    return request.path + (f"?{urlencode(query)}" if query else "")


def _log_pages(
    request: web.Request, name: str, items: list[dict[str, Any]]
) -> dict[str, str | None]:
    current = _before(request, name)
    older = _log_url(request, name, min(i["id"] for i in items)) if len(items) == LOG_PAGE else None
    return {"next": older, "first": _log_url(request, name, None) if current else None}


async def detail(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    hook_id = _hook_id(request)
    api = ConsoleApi(request, staff)
    path = f"{LIST}/{hook_id}"
    hook, deliveries, attempts = await asyncio.gather(
        api.get(path),
        api.get(
            f"{path}/deliveries",
            params={"limit": LOG_PAGE, "before": _before(request, "deliveries_before")},
        ),
        api.get(
            f"{path}/attempts",
            params={"limit": LOG_PAGE, "before": _before(request, "attempts_before")},
        ),
    )
    delivery_items = deliveries.get("deliveries", [])
    attempt_items = attempts.get("attempts", [])
    return render(
        request,
        "webhooks/detail.html",
        staff=staff,
        title=f"Webhook endpoint {hook_id}",
        hook=hook,
        deliveries=delivery_items,
        delivery_pages=_log_pages(request, "deliveries_before", delivery_items),
        attempts=attempt_items,
        attempt_pages=_log_pages(request, "attempts_before", attempt_items),
        may_edit=staff.may("PATCH", ONE),
        may_rotate=staff.may("POST", f"{ONE}/rotate-secret"),
        may_test=staff.may("POST", f"{ONE}/test"),
        may_delete=staff.may("DELETE", ONE),
        when=when,
    )


async def set_enabled(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    hook_id = _hook_id(request)
    enabled = text_of(form, "enabled") == "true"
    await ConsoleApi(request, staff).patch(f"{LIST}/{hook_id}", json={"enabled": enabled})
    flash = (
        f"Webhook endpoint {hook_id} enabled: its pending deliveries go out again."
        if enabled
        else f"Webhook endpoint {hook_id} disabled: nothing is sent to it."
    )
    return redirect(request, f"/console/webhooks/{hook_id}", flash=flash)


async def send_test(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await checked_form(request, staff)
    hook_id = _hook_id(request)
    sent = await ConsoleApi(request, staff).post(f"{LIST}/{hook_id}/test")
    flash = f"Test event {sent['eventId']} queued: its delivery and attempts show below."
    return redirect(request, f"/console/webhooks/{hook_id}", flash=flash)


async def _confirm_page(
    request: web.Request,
    staff: StaffContext,
    template: str,
    title: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    hook = await ConsoleApi(request, staff).get(f"{LIST}/{_hook_id(request)}")
    return form_page(
        request,
        staff,
        template,
        status=status,
        title=title.format(id=hook["id"]),
        hook=hook,
        values=values or {},
        errors=errors,
        message=message,
    )


async def rotate_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", f"{ONE}/rotate-secret", "rotate webhook secrets")
    return await _confirm_page(
        request, staff, "webhooks/rotate.html", "Rotate the secret of webhook endpoint {id}?"
    )


async def rotate(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    hook_id = _hook_id(request)
    grace = text_of(form, "graceHours")
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    if grace:
        if grace.isdigit() and len(grace) <= 4:
            body["graceHours"] = int(grace)
        else:
            errors["graceHours"] = "Enter a whole number of hours."
    message = None
    if not errors:
        try:
            hook = await ConsoleApi(request, staff).post(
                f"{LIST}/{hook_id}/rotate-secret", json=body
            )
        except ApiError as exc:
            if exc.status != 400:
                raise
            errors, message = refusal(exc, FIELDS)
        else:
            return secret_page(
                request,
                staff,
                title=f"The signing secret of webhook endpoint {hook_id} was rotated",
                what="The new signing secret",
                use=SIGNING,
                secret=hook["secret"],
                done_url=f"/console/webhooks/{hook_id}",
            )
    return await _confirm_page(
        request,
        staff,
        "webhooks/rotate.html",
        "Rotate the secret of webhook endpoint {id}?",
        values={"graceHours": grace},
        errors=errors,
        message=message,
        status=400,
    )


async def delete_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "DELETE", ONE, "delete webhook endpoints")
    return await _confirm_page(
        request, staff, "webhooks/delete.html", "Delete webhook endpoint {id}?"
    )


async def delete(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await checked_form(request, staff)
    hook_id = _hook_id(request)
    hook = await ConsoleApi(request, staff).delete(f"{LIST}/{hook_id}")
    flash = f"Webhook endpoint {hook_id} ({hook['url']}) deleted with its delivery log."
    return redirect(request, "/console/webhooks", flash=flash)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/webhooks", list_hooks)
    router.add_get("/console/webhooks/new", new_form)
    router.add_post("/console/webhooks/new", save)
    router.add_get("/console/webhooks/{id}", detail)
    router.add_get("/console/webhooks/{id}/edit", edit_form)
    router.add_post("/console/webhooks/{id}/edit", save)
    router.add_post("/console/webhooks/{id}/enabled", set_enabled)
    router.add_post("/console/webhooks/{id}/test", send_test)
    router.add_get("/console/webhooks/{id}/rotate", rotate_form)
    router.add_post("/console/webhooks/{id}/rotate", rotate)
    router.add_get("/console/webhooks/{id}/delete", delete_form)
    router.add_post("/console/webhooks/{id}/delete", delete)
