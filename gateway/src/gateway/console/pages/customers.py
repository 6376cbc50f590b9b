"""Console pages: customers (docs/console.md). Look a customer up by mobile, email, external
id or id, and see their coupons, redemptions and subscriptions, each paged. Each section is
shown only to roles that may read it, and an API error in one is shown in it in words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.listing import (
    form_page,
    has_more,
    page_number,
    page_size,
    page_url,
    when,
)
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, require_staff

LOOKUP = "/v2/customers/lookup"
ONE = "/v2/customers/{id}"
COUPONS = "/v2/customers/{id}/coupons"
REDEMPTIONS = "/v2/coupon/redemptions"
SUBSCRIPTIONS = "/api/v1/subscriptions"
SERIES = "/v2/coupon/series/{id}"
REVERSE = "/v2/coupon/redemptions/{redemptionId}/reverse"
BY = (("mobile", "Mobile"), ("email", "Email"), ("externalId", "External id"), ("id", "Id"))
MAX_COUPONS = 1000  # the most GET /v2/customers/{id}/coupons lists


@dataclass
class Section:
    """One paged list of the customer page."""

    name: str  # its query parameter ("coupons=2") and element ids
    items: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    note: str | None = None
    previous: str | None = None
    next: str | None = None


def _paged(request: web.Request, section: Section, page: int, more: bool) -> Section:
    section.previous = page_url(request, section.name, page - 1) if page > 1 else None
    section.next = page_url(request, section.name, page + 1) if more else None
    return section


def _lookup_page(
    request: web.Request,
    staff: StaffContext,
    *,
    by: str = "mobile",
    value: str = "",
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "customers/lookup.html",
        status=status,
        title="Find a customer",
        by_options=BY,
        by=by,
        value=value,
        errors=errors,
        message=message,
    )


async def lookup(request: web.Request) -> web.Response:
    """The lookup form; with ``by`` and ``value`` it finds the customer and goes to their
    page, or says that there is none."""
    staff = await require_staff(request)
    if "by" not in request.query:
        return _lookup_page(request, staff)
    by, value = request.query.get("by", ""), request.query.get("value", "").strip()
    labels = dict(BY)
    if by not in labels:
        return _lookup_page(
            request, staff, value=value, errors={"by": "Choose what to look up by."}, status=400
        )
    if not value:
        error = f"Give the {labels[by].lower()} to look up."
        return _lookup_page(request, staff, by=by, errors={"value": error}, status=400)
    api = ConsoleApi(request, staff)
    try:
        if by == "id":
            if not value.isdigit() or int(value) > 2**63 - 1:
                raise ApiError(404, "not a customer id")
            found = await api.get(f"/v2/customers/{value}")
        else:
            found = await api.get(LOOKUP, params={by: value})
    except ApiError as exc:
        if exc.status == 404:
            message = f"No customer with {labels[by].lower()} {value}."
            return _lookup_page(request, staff, by=by, value=value, message=message, status=404)
        if exc.status == 400:
            error = exc.fields.get(by) or exc.message
            return _lookup_page(
                request, staff, by=by, value=value, errors={"value": error}, status=400
            )
        raise
    return redirect(request, f"/console/customers/{found['id']}")


def profile(customer: dict[str, Any]) -> dict[str, Any]:
    """The customer's name and identifiers from the seed's ``profiles`` shape."""
    profiles = customer.get("profiles") or [{}]
    first = profiles[0]
    identifiers = {i.get("type"): i.get("value") for i in first.get("identifiers", [])}
    name = " ".join(p for p in (first.get("firstName"), first.get("lastName")) if p)
    return {"name": name, "identifiers": identifiers, "updated": when(first.get("autoUpdateTime"))}


async def _section(
    name: str, fetch: Callable[[], Awaitable[Section]], *, allowed: bool
) -> Section | None:
    if not allowed:
        return None
    try:
        return await fetch()
    except ApiError as exc:
        return Section(name, error=exc.message)


async def customer_page(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    text = request.match_info["id"]
    if not text.isdigit() or int(text) > 2**63 - 1:
        raise web.HTTPNotFound(text=f"There is no customer {text}.")
    customer_id = int(text)
    api = ConsoleApi(request, staff)
    customer = await api.get(f"/v2/customers/{customer_id}")
    about = profile(customer)
    size = page_size(request)

    async def coupons() -> Section:
        page = page_number(request, "coupons")
        wanted = min(page * size + 1, MAX_COUPONS)
        found = await api.get(f"/v2/customers/{customer_id}/coupons", params={"limit": wanted})
        listed = found.get("coupons", [])
        section = Section("coupons", items=listed[(page - 1) * size : page * size])
        if len(listed) >= MAX_COUPONS and page * size >= MAX_COUPONS:
            section.note = f"Only the first {MAX_COUPONS} coupons can be listed."
        return _paged(request, section, page, len(listed) > page * size)

    async def redemptions() -> Section:
        page = page_number(request, "redemptions")
        params = {"customerId": customer_id, "page": page, "limit": size}
        found = await api.get(REDEMPTIONS, params=params)
        section = Section("redemptions", items=found.get("redemptions", []))
        return _paged(request, section, page, has_more(found, page, size, section.items))

    async def subscriptions() -> Section:
        email = about["identifiers"].get("email")
        if not email:
            note = (
                "This customer has no email, so no subscriptions can be shown: "
                "subscriptions belong to user accounts, which are matched by email."
            )
            return Section("subscriptions", note=note)
        page = page_number(request, "subscriptions")
        params = {"email": email, "page": page, "limit": size}
        found = await api.get(SUBSCRIPTIONS, params=params)
        section = Section("subscriptions", items=found.get("subscriptions", []))
        return _paged(request, section, page, has_more(found, page, size, section.items))

    return render(
        request,
        "customers/detail.html",
        staff=staff,
        title=f"Customer {customer_id}" + (f": {about['name']}" if about["name"] else ""),
        customer=customer,
        about=about,
        coupons=await _section("coupons", coupons, allowed=staff.may("GET", COUPONS)),
        redemptions=await _section(
            "redemptions", redemptions, allowed=staff.may("GET", REDEMPTIONS)
        ),
        subscriptions=await _section(
            "subscriptions", subscriptions, allowed=staff.may("GET", SUBSCRIPTIONS)
        ),
        may_series=staff.may("GET", SERIES),
        may_search=staff.may("GET", REDEMPTIONS),
        when=when,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/customers", lookup)
    router.add_get("/console/customers/{id}", customer_page)
