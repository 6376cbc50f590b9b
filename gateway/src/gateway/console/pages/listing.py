"""What the console's page modules share: page sizes and numbers from the query,
previous/next links, times shown in UTC, a form page (with the API's refusal on its
fields), and a form page refused to a role that may not take its action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.console.render import redirect, render
from gateway.console.session import StaffContext

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def _moment(value: Any) -> datetime | None:
    """An API time (ISO 8601; UTC when it names no zone), or None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def when(value: Any) -> str:
    """An API time (ISO 8601) as the console shows it: UTC, to the second."""
    moment = _moment(value)
    if moment is None:
        return value if isinstance(value, str) else ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def past(value: Any) -> bool:
    """Whether an API time (ISO 8601) has passed; not a time: no."""
    moment = _moment(value)
    return moment is not None and moment <= datetime.now(UTC)


def page_size(request: web.Request) -> int:
    """``?limit=`` (1 to 100), else 20."""
    text = request.query.get("limit", "")
    return min(int(text), MAX_PAGE_SIZE) if text.isdigit() and int(text) > 0 else PAGE_SIZE


def page_number(request: web.Request, name: str = "page") -> int:
    """A page number from the query (1 when absent or not one)."""
    text = request.query.get(name, "")
    return int(text) if text.isdigit() and 0 < int(text) <= 100_000 else 1


def page_url(request: web.Request, name: str, page: int) -> str:
    """This page's address with page ``page`` of ``name`` (the other parameters kept)."""
    query = {k: v for k, v in request.query.items() if k != name}
    if page > 1:
        query[name] = str(page)
    return request.path + (f"?{urlencode(query)}" if query else "")


def has_more(found: dict[str, Any], page: int, size: int, items: list[Any]) -> bool:
    """Whether a page follows, from the answer's pagination block (``hasMore``, its page
    count, total or next link) or, failing those, from a full page."""
    paging = found.get("pagination")
    if isinstance(paging, dict):
        if isinstance(paging.get("hasMore"), bool):
            return bool(paging["hasMore"])
        if isinstance(paging.get("pages"), int):
            return page < int(paging["pages"])
        if isinstance(paging.get("total"), int):
            return page * size < int(paging["total"])
        if "next" in paging:
            return bool(paging["next"])
    return len(items) >= size


def form_page(
    request: web.Request,
    staff: StaffContext,
    template: str,
    *,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """A page with a form: ``errors`` (field -> words, none when absent) beside their
    fields, ``message`` (a refusal no field owns) above them, ``status`` the API's when
    it refused what was posted."""
    return render(
        request,
        template,
        staff=staff,
        status=status,
        errors=errors or {},
        message=message,
        **context,
    )


def require_action(staff: StaffContext, method: str, template: str, action: str) -> None:
    """A form page whose action the role may not take says so (403) instead of showing a
    form the API would refuse; posting it anyway gets the API's own refusal."""
    if not staff.may(method, template):
        raise web.HTTPForbidden(text=f"The role '{staff.role}' may not {action}.")


def first_page(request: web.Request, page: int) -> web.Response:
    """Where a link to a page past the last (the list shrank since) leads: the first page,
    saying so, rather than the API's refusal of that page number."""
    return redirect(
        request,
        page_url(request, "page", 1),
        flash=f"There is no page {page} (the list is shorter now): this is the first page.",
    )
