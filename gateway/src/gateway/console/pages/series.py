"""Console pages: coupon series (docs/console.md). The list with counters and limits, create
and edit (every field ``POST``/``PUT /v2/coupon/series`` takes), the detail, and issuing a
coupon of a series to a customer. Data through the Capillary v2 API only."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.listing import form_page, page_size, require_action, when
from gateway.console.pages.series_form import (
    DEFAULTS,
    FIELDS,
    INT32,
    form_values,
    parse_form,
    split_errors,
)
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, check_csrf, require_staff

LIST = "/v2/coupon/series"
ONE = "/v2/coupon/series/{id}"
ISSUE = "/v2/coupon/issue"
ISSUE_MANY = "/v2/coupon/issue/multiple"
REDEMPTIONS = "/v2/coupon/redemptions"
CUSTOMER_KEYS = (("mobile", "Mobile"), ("email", "Email"), ("externalId", "External id"))


def _series_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or int(text) > INT32:
        raise web.HTTPNotFound(text=f"There is no series {text}.")
    return int(text)


async def list_series(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    limit = page_size(request)
    after_text = request.query.get("after", "")
    after = int(after_text) if after_text.isdigit() and int(after_text) <= INT32 else 0
    found = await ConsoleApi(request, staff).get(LIST, params={"after": after, "limit": limit})
    series = found.get("series", [])
    next_url = None
    if len(series) == limit:
        next_url = f"/console/series?after={series[-1]['id']}&limit={limit}"
    first_url = f"/console/series?limit={limit}" if after else None
    return render(
        request,
        "series/list.html",
        staff=staff,
        title="Coupon series",
        series=series,
        next_url=next_url,
        first_url=first_url,
        may_create=staff.may("POST", LIST),
        may_edit=staff.may("PUT", ONE),
        may_issue=staff.may("POST", ISSUE),
        when=when,
    )


def _form_page(
    request: web.Request,
    staff: StaffContext,
    *,
    series_id: int | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "series/form.html",
        status=status,
        title=f"Edit series {series_id}" if series_id else "New series",
        series_id=series_id,
        fields=FIELDS,
        values=values,
        errors=errors,
        message=message,
    )


async def new_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", LIST, "create series")
    return _form_page(request, staff, series_id=None, values=dict(DEFAULTS))


async def edit_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "PUT", ONE, "change series")
    series_id = _series_id(request)
    series = await ConsoleApi(request, staff).get(f"{LIST}/{series_id}")
    return _form_page(request, staff, series_id=series_id, values=form_values(series))


async def save(request: web.Request) -> web.Response:
    """Create (``/console/series/new``) or change (``.../{id}/edit``) a series."""
    staff = await require_staff(request)
    form = await request.post()
    check_csrf(request, form, staff)
    series_id = _series_id(request) if "id" in request.match_info else None
    values, body, errors = parse_form(form)
    if errors:
        return _form_page(
            request, staff, series_id=series_id, values=values, errors=errors, status=400
        )
    api = ConsoleApi(request, staff)
    try:
        if series_id is None:
            saved = await api.post(LIST, json=body)
        else:
            saved = await api.put(f"{LIST}/{series_id}", json=body)
    except ApiError as exc:
        if exc.status != 400:
            raise
        fields, message = split_errors(exc, {f.name for f in FIELDS})
        return _form_page(
            request,
            staff,
            series_id=series_id,
            values=values,
            errors=fields,
            message=message,
            status=400,
        )
    verb = "created" if series_id is None else "saved"
    return redirect(
        request, f"/console/series/{saved['id']}", flash=f"Series {saved['id']} {verb}."
    )


async def detail(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    series_id = _series_id(request)
    series = await ConsoleApi(request, staff).get(f"{LIST}/{series_id}")
    shown = [(f, series.get(f.name)) for f in FIELDS]
    return render(
        request,
        "series/detail.html",
        staff=staff,
        title=f"Series {series_id}: {series.get('description', '')}",
        series=series,
        shown=shown,
        valid_till=when(series.get("validTillDate")),
        when=when,
        may_edit=staff.may("PUT", ONE),
        may_issue=staff.may("POST", ISSUE),
        may_redemptions=staff.may("GET", REDEMPTIONS),
    )


def _issue_page(
    request: web.Request,
    staff: StaffContext,
    series: dict[str, Any] | None,
    series_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "series/issue.html",
        status=status,
        title=f"Issue a coupon of series {series_id}",
        series=series,
        series_id=series_id,
        keys=CUSTOMER_KEYS,
        values=values or {"count": "1"},
        errors=errors,
        message=message,
    )


async def issue_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", ISSUE, "issue coupons")
    series_id = _series_id(request)
    series = await ConsoleApi(request, staff).get(f"{LIST}/{series_id}")
    return _issue_page(request, staff, series, series_id)


def _issue_body(
    series_id: int, form: MultiDictProxy[Any]
) -> tuple[dict[str, str], dict[str, Any], int, dict[str, str]]:
    values = {name: str(form.get(name, "")).strip() for name in ("id", "count")}
    values.update({name: str(form.get(name, "")).strip() for name, _ in CUSTOMER_KEYS})
    customer: dict[str, Any] = {name: values[name] for name, _ in CUSTOMER_KEYS if values[name]}
    errors: dict[str, str] = {}
    if values["id"]:
        if values["id"].isdigit():
            customer["id"] = int(values["id"])
        else:
            errors["id"] = "Enter the customer's id: digits only."
    if not customer and not errors:
        errors["mobile"] = "Enter the customer's mobile, email, external id or id."
    count = int(values["count"]) if values["count"].isdigit() else 0 if values["count"] else 1
    if not 1 <= count <= 500:
        errors["count"] = "Enter a whole number from 1 to 500."
    return values, {"seriesId": series_id, "customer": customer}, count, errors


async def issue(request: web.Request) -> web.Response:
    """Issue one coupon (or ``count``) to the customer named by any identifier; the
    customer's page then shows it, and the flash names the code."""
    staff = await require_staff(request)
    form = await request.post()
    check_csrf(request, form, staff)
    series_id = _series_id(request)
    values, body, count, errors = _issue_body(series_id, form)
    if errors:
        return _issue_page(
            request, staff, None, series_id, values=values, errors=errors, status=400
        )
    api = ConsoleApi(request, staff)
    try:
        if count == 1:
            issued = await api.post(ISSUE, json=body)
            codes = [issued["code"]]
        else:
            issued = await api.post(ISSUE_MANY, json={**body, "count": count})
            codes = list(issued["codes"])
    except ApiError as exc:
        if exc.status not in (400, 404, 409):
            raise
        fields = {k.removeprefix("customer."): v for k, v in exc.fields.items()}
        names = {"id", "count", *(name for name, _ in CUSTOMER_KEYS)}
        shown, message = split_errors(ApiError(exc.status, exc.message, fields), names)
        return _issue_page(
            request,
            staff,
            None,
            series_id,
            values=values,
            errors=shown,
            message=message,
            status=exc.status,
        )
    customer_id = issued["customer"]["id"]
    # A flash holds a few hundred characters: many codes are on the customer's page.
    issued_text = ", ".join(codes) if len(codes) <= 5 else f"{len(codes)} coupons"
    flash = f"Issued {issued_text} of series {series_id} to customer {customer_id}."
    if staff.may("GET", "/v2/customers/{id}"):
        return redirect(request, f"/console/customers/{customer_id}", flash=flash)
    return redirect(request, f"/console/series/{series_id}", flash=flash)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/series", list_series)
    router.add_get("/console/series/new", new_form)
    router.add_post("/console/series/new", save)
    router.add_get("/console/series/{id}", detail)
    router.add_get("/console/series/{id}/edit", edit_form)
    router.add_post("/console/series/{id}/edit", save)
    router.add_get("/console/series/{id}/issue", issue_form)
    router.add_post("/console/series/{id}/issue", issue)
