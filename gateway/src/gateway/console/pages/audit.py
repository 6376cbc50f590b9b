"""Console pages: the audit log (docs/console.md, docs/operations.md). The changes made
through the console or the admin API, newest first, filtered by actor, action, target and
time and a page at a time, and one change with the resource before and after it side by
side. Data through ``/api/v1/audit-log`` only."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web
from coupon_core.routes import Access

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.admin_common import numbered_url, pretty, refusal
from gateway.console.pages.listing import page_number, page_size, when
from gateway.console.render import render
from gateway.console.session import require_staff
from gateway.domain.audit import CHANGES
from gateway.keys import GATEKEEPER

LIST = "/api/v1/audit-log"
FILTERS = ("actor", "actorKind", "action", "target", "since", "until")
ACTOR_KINDS = (("", "Anyone"), ("staff", "Staff (via the console)"), ("api_token", "API tokens"))
# The console page of a change's target, by the start of the changed endpoint's template.
PAGES = (
    ("/api/v1/api-tokens/{id}", "/console/tokens/{id}"),
    ("/api/v1/staff/{id}", "/console/staff/{id}"),
    ("/api/v1/webhooks/{id}", "/console/webhooks/{id}"),
    ("/api/v1/promotions/{code}", "/console/promotions/{code}"),
    ("/v2/coupon/series/{id}", "/console/series/{id}"),
    ("/v2/coupon/redemptions/{redemptionId}", "/console/redemptions/{redemptionId}"),
)
_DIGITS = re.compile(r"\d{1,18}")


def _moment(text: str) -> str:
    """A ``datetime-local`` value (no offset: UTC, as the form says) as ISO 8601 with its
    offset; other text goes to the API as it is, to be judged there."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return text + "Z" if moment.tzinfo is None else text


def _actions(request: web.Request) -> list[tuple[str, str]]:
    """The select's options: every change the audit log may hold (a staff member's or an
    API token's), in the route table's order."""
    options = [("", "Any change")]
    for endpoint in request.app[GATEKEEPER].routes.endpoints:
        if endpoint.method in CHANGES and endpoint.access is Access.API_TOKEN:
            action = f"{endpoint.method} {endpoint.template}"
            options.append((action, action))
    return options


def page_of(record: dict[str, Any]) -> str | None:
    """The console page of the resource a change was made to, where it has one."""
    target = record.get("target") or {}
    for template, page in PAGES:
        if record.get("template", "").startswith(template):
            path = page
            for name, value in target.items():
                path = path.replace("{" + name + "}", str(value))
            return None if "{" in path else path
    return None


async def audit_log(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    values = {name: request.query.get(name, "").strip() for name in FILTERS}
    params = {
        **values,
        "since": _moment(values["since"]) if values["since"] else "",
        "until": _moment(values["until"]) if values["until"] else "",
        "page": page_number(request),
        "limit": page_size(request),
    }
    records: list[dict[str, Any]] = []
    paging: dict[str, Any] = {}
    errors: dict[str, str] = {}
    message = None
    status = 200
    try:
        found = await ConsoleApi(request, staff).get(LIST, params=params)
    except ApiError as exc:
        if exc.status != 400:
            raise
        errors, message = refusal(exc, set(FILTERS) | {"page", "limit"})
        status = 400
    else:
        records = found.get("items", [])
        paging = found.get("pagination", {})
    actions = _actions(request)
    if values["action"] and all(value != values["action"] for value, _ in actions):
        actions.append((values["action"], values["action"]))
    return render(
        request,
        "audit/list.html",
        staff=staff,
        status=status,
        title="Audit log",
        records=records,
        values=values,
        filtered=any(values.values()),
        actions=actions,
        actor_kinds=ACTOR_KINDS,
        errors=errors,
        message=message,
        page=paging.get("page", 1),
        pages=paging.get("pages", 1),
        total=paging.get("total", 0),
        pages_url=numbered_url(request),
        page_of=page_of,
        when=when,
    )


def changed_keys(before: Any, after: Any) -> list[str]:
    """The top-level fields whose value differs before and after (both objects)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


async def record(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    text = request.match_info["id"]
    if not _DIGITS.fullmatch(text):
        raise web.HTTPNotFound(text=f"There is no audit record {text}.")
    found = await ConsoleApi(request, staff).get(f"{LIST}/{text}")
    actor_page = None
    if found.get("actorKind") == "staff":
        actor_page = f"/console/staff/{found['actorId']}"
    elif found.get("actorKind") == "api_token":
        actor_page = f"/console/tokens/{found['actorId']}"
    return render(
        request,
        "audit/detail.html",
        staff=staff,
        title=f"Audit record {found['id']}: {found['action']}",
        record=found,
        actor_page=actor_page,
        target_page=page_of(found),
        changed=changed_keys(found.get("before"), found.get("after")),
        pretty=pretty,
        when=when,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/audit", audit_log)
    router.add_get("/console/audit/{id}", record)
