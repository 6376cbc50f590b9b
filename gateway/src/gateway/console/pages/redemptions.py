"""Console pages: redemptions (docs/console.md). Search the ledger by code, customer,
transaction number or redemption id; a redemption's page; and its reversal, which asks for a
reason and an explicit confirmation before it calls the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.listing import (
    form_page,
    has_more,
    page_number,
    page_size,
    page_url,
    require_action,
    when,
)
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, check_csrf, require_staff

SEARCH = "/v2/coupon/redemptions"
ONE = "/v2/coupon/redemptions/{redemptionId}"
REVERSE = "/v2/coupon/redemptions/{redemptionId}/reverse"
CUSTOMER = "/v2/customers/{id}"
SERIES = "/v2/coupon/series/{id}"
PROMOTION = "/api/v1/promotions/{code}"
FILTERS = (
    ("code", "Coupon code"),
    ("transactionNumber", "Transaction number"),
    ("id", "Redemption id"),
    ("seriesId", "Series id"),
    ("promotionCode", "Promotion code"),
)
# The customer, by any identifier a redeem resolves (the API's parameter names).
CUSTOMER_BY = (
    ("customerId", "Id"),
    ("mobile", "Mobile"),
    ("email", "Email"),
    ("externalId", "External id"),
)
REASON_MAX = 1000  # what the API keeps of a reason
CONFIRMED = "yes"


def _redemption_id(request: web.Request) -> str:
    text = request.match_info["id"]
    if not text.isdigit() or int(text) > 2**63 - 1:
        raise web.HTTPNotFound(text=f"There is no redemption {text}.")
    return text


def _one(body: Any) -> dict[str, Any]:
    """The redemption of a ``GET .../redemptions/{id}`` answer."""
    found = body.get("redemption", body) if isinstance(body, dict) else {}
    return found if isinstance(found, dict) else {}


def _links(staff: StaffContext, item: dict[str, Any]) -> dict[str, str]:
    """Where the pages of the redemption's customer, series or promotion are, for roles
    that may read them."""
    links: dict[str, str] = {}
    customer = str(item.get("customerId") or "")
    if customer.isdigit() and staff.may("GET", CUSTOMER):
        links["customer"] = f"/console/customers/{customer}"
    series = item.get("seriesId")
    if series is not None and staff.may("GET", SERIES):
        links["series"] = f"/console/series/{series}"
    promotion = item.get("promotionCode")
    if promotion and staff.may("GET", PROMOTION):
        links["promotion"] = f"/console/promotions/{promotion}"
    return links


def _customer_filter(request: web.Request) -> tuple[str, str]:
    """Which identifier names the customer, and its value: the form's ``customerBy`` and
    ``customer``, or an identifier given by its API name (a link's ``?customerId=``)."""
    for name, _ in CUSTOMER_BY:
        value = request.query.get(name, "").strip()
        if value:
            return name, value
    by = request.query.get("customerBy", "")
    if by not in dict(CUSTOMER_BY):
        by = "customerId"
    return by, request.query.get("customer", "").strip()


async def search(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    size, page = page_size(request), page_number(request)
    values = {name: request.query.get(name, "").strip() for name, _ in FILTERS}
    customer_by, values["customer"] = _customer_filter(request)
    params: dict[str, str | int] = {k: v for k, v in values.items() if v and k != "customer"}
    if values["customer"]:
        params[customer_by] = values["customer"]
    items: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    message = None
    status = 200
    more = False
    try:
        found = await ConsoleApi(request, staff).get(
            SEARCH, params={**params, "page": page, "limit": size}
        )
    except ApiError as exc:
        if exc.status != 400:
            raise
        status = 400
        for name, text in exc.fields.items():
            if name in dict(CUSTOMER_BY):
                errors["customer"] = text
            elif name in values:
                errors[name] = text
        message = None if errors else exc.message
    else:
        items = found.get("redemptions", [])
        more = has_more(found, page, size, items)
    return render(
        request,
        "redemptions/search.html",
        staff=staff,
        status=status,
        title="Redemptions",
        filters=FILTERS,
        customer_by_options=CUSTOMER_BY,
        customer_by=customer_by,
        values=values,
        searched=bool(params),
        items=items,
        errors=errors,
        message=message,
        previous=page_url(request, "page", page - 1) if page > 1 else None,
        next=page_url(request, "page", page + 1) if more else None,
        customer_links=staff.may("GET", CUSTOMER),
        when=when,
    )


async def detail(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    redemption_id = _redemption_id(request)
    item = _one(await ConsoleApi(request, staff).get(f"{SEARCH}/{redemption_id}"))
    return render(
        request,
        "redemptions/detail.html",
        staff=staff,
        title=f"Redemption {redemption_id}",
        item=item,
        links=_links(staff, item),
        may_reverse=staff.may("POST", REVERSE) and not item.get("reversed"),
        when=when,
    )


def _reverse_page(
    request: web.Request,
    staff: StaffContext,
    redemption_id: str,
    item: dict[str, Any] | None,
    *,
    reason: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "redemptions/reverse.html",
        status=status,
        title=f"Reverse redemption {redemption_id}",
        redemption_id=redemption_id,
        item=item,
        reason=reason,
        errors=errors,
        reason_max=REASON_MAX,
        when=when,
    )


async def reverse_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", REVERSE, "reverse redemptions")
    redemption_id = _redemption_id(request)
    item = _one(await ConsoleApi(request, staff).get(f"{SEARCH}/{redemption_id}"))
    return _reverse_page(request, staff, redemption_id, item)


async def reverse(request: web.Request) -> web.Response:
    """Reverse with the reason given, once the box is ticked; the API decides whether this
    role may (a refusal is shown as the API words it)."""
    staff = await require_staff(request)
    form = await request.post()
    check_csrf(request, form, staff)
    redemption_id = _redemption_id(request)
    reason = str(form.get("reason", "")).strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Give the reason for the reversal."
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"The reason is at most {REASON_MAX} characters."
    if form.get("confirm") != CONFIRMED:
        errors["confirm"] = "Tick the box to confirm the reversal."
    if errors:
        try:
            item = _one(await ConsoleApi(request, staff).get(f"{SEARCH}/{redemption_id}"))
        except ApiError:
            item = None
        return _reverse_page(
            request, staff, redemption_id, item, reason=reason, errors=errors, status=400
        )
    answer = await ConsoleApi(request, staff).post(
        f"{SEARCH}/{redemption_id}/reverse", json={"reason": reason}
    )
    return redirect(
        request,
        f"/console/redemptions/{redemption_id}",
        flash=_reversal_said(redemption_id, answer, reason),
    )


def _reversal_said(redemption_id: str, answer: Any, reason: str) -> str:
    """What the reversal did. Reversing twice answers like the first time (SPEC section 5),
    so a reversal with another reason is someone else's, made before this one."""
    reversal = answer.get("reversal") if isinstance(answer, dict) else None
    if not isinstance(reversal, dict):
        reversal = {}
    earlier = reversal.get("reason")
    if reversal and (earlier or "").strip() != reason:
        because = f": {earlier}" if earlier else ""
        return (
            f"Redemption {redemption_id} was already reversed at "
            f"{when(reversal.get('reversedAt'))}{because}. Nothing changed."
        )
    return f"Redemption {redemption_id} reversed."


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/redemptions", search)
    router.add_get("/console/redemptions/{id}", detail)
    router.add_get("/console/redemptions/{id}/reverse", reverse_form)
    router.add_post("/console/redemptions/{id}/reverse", reverse)
