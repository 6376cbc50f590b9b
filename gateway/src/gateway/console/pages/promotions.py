"""Console pages: promotions (docs/console.md): the list (search, filter, sort, pages), the
create and edit form with rules and actions, and deletion after a confirmation. The page of
one promotion, its coupons, generation jobs and the export are in promotion_detail.py.

Every page calls the promotion API (``/api/v1/promotions*``) as the signed-in staff member;
an action is offered only when the role's whitelist allows it, and the gateway refuses it
anyway when it does not (the page then shows the refusal in words).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages import promotion_detail as detail
from gateway.console.pages.listing import first_page, form_page, page_number, require_action, when
from gateway.console.pages.promotion_api import (
    PROMOTION,
    PROMOTIONS,
    allowed,
    console_path,
    form_errors,
    promotion_path,
    shown_on_form,
)
from gateway.console.pages.promotion_form import (
    PROMOTION_FIELDS,
    describe_action,
    promotion_body,
    promotion_fields,
    values,
)
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, checked_form, require_staff

SORTS = ("code", "name", "priority")
LIMITS = (10, 20, 50, 100)
COUPON_BASED = {"yes": "true", "no": "false"}


def _choice(value: str | None, choices: tuple[Any, ...], default: Any) -> Any:
    return value if value in choices else default


async def promotion_list(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    query = request.rel_url.query
    q = query.get("q", "").strip()[:100]
    coupon_based = _choice(query.get("coupon_based"), tuple(COUPON_BASED), "")
    sort = _choice(query.get("sort"), SORTS, "")
    order = _choice(query.get("order"), ("asc", "desc"), "asc")
    limit = int(_choice(query.get("limit"), tuple(str(n) for n in LIMITS), "20"))
    page = page_number(request)
    params: dict[str, str | int] = {"page": page, "limit": limit}
    if q:
        params["criteria[search]"] = q
    if coupon_based:
        params["criteria[couponBased]"] = COUPON_BASED[coupon_based]
    if sort:
        params[f"sorting[{sort}]"] = order
    try:
        body = await ConsoleApi(request, staff).get(f"{PROMOTIONS}/", params=params)
    except ApiError as exc:
        if exc.status == 404 and page > 1:
            return first_page(request, page)
        raise
    kept = {"q": q, "coupon_based": coupon_based, "sort": sort, "order": order, "limit": limit}
    kept_query = urlencode({k: v for k, v in kept.items() if v})

    def sorted_by(column: str) -> str:
        flipped = "desc" if sort == column and order == "asc" else "asc"
        again = {**kept, "sort": column, "order": flipped}
        return "?" + urlencode({k: v for k, v in again.items() if v})

    return render(
        request,
        "promotions/list.html",
        staff=staff,
        title="Promotions",
        promotions=body["_embedded"]["items"],
        total=body["total"],
        page=body["page"],
        pages=body["pages"],
        filters=kept,
        limit_options=[(str(n), str(n)) for n in LIMITS],
        sort_links={column: sorted_by(column) for column in SORTS},
        page_url=f"/console/promotions?{kept_query}&page={{page}}".replace("?&", "?"),
        describe_action=describe_action,
        allowed=allowed(staff),
        when=when,
    )


def _form_page(
    request: web.Request,
    staff: StaffContext,
    *,
    code: str | None,
    fields: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "promotions/form.html",
        status=status,
        title=f"Edit promotion {code}" if code else "New promotion",
        code=code,
        action=console_path(code, "edit") if code else "/console/promotions/new",
        cancel=console_path(code) if code else "/console/promotions",
        fields=fields,
        errors=errors,
        message=message,
    )


async def new_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    require_action(staff, "POST", PROMOTIONS, "create promotions")
    return _form_page(request, staff, code=None, fields={"priority": "0"})


async def edit_form(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    code = request.match_info["code"]
    require_action(staff, "PUT", PROMOTION, "change promotions")
    promotion = await ConsoleApi(request, staff).get(promotion_path(code))
    return _form_page(request, staff, code=code, fields=promotion_fields(promotion))


async def save(request: web.Request) -> web.Response:
    """POST of the new or the edit form: the whole promotion as JSON, POST or PUT."""
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    code = request.match_info.get("code")
    parsed = promotion_body(form, with_code=code is None)
    typed = values(form, PROMOTION_FIELDS)
    if parsed.errors:
        return _form_page(request, staff, code=code, fields=typed, errors=parsed.errors, status=400)
    api = ConsoleApi(request, staff)
    try:
        if code is None:
            created = await api.post(f"{PROMOTIONS}/", json=parsed.body)
            code = str(created["code"])
            flash = "Promotion created."
        else:
            await api.put(promotion_path(code), json=parsed.body)
            flash = "Promotion saved."
    except ApiError as exc:
        if not shown_on_form(exc):
            raise
        errors, message = form_errors(exc, (*PROMOTION_FIELDS, "rules", "actions"))
        code = request.match_info.get("code")
        return _form_page(
            request,
            staff,
            code=code,
            fields=typed,
            errors=errors,
            message=message,
            status=exc.status,
        )
    return redirect(request, console_path(code), flash=flash)


async def delete_confirm(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    code = request.match_info["code"]
    require_action(staff, "DELETE", PROMOTION, "delete promotions")
    promotion = await ConsoleApi(request, staff).get(promotion_path(code))
    return render(
        request,
        "promotions/delete.html",
        staff=staff,
        title=f"Delete promotion {code}",
        promotion=promotion,
        action=console_path(code, "delete"),
        cancel=console_path(code),
    )


async def delete(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await checked_form(request, staff)
    code = request.match_info["code"]
    await ConsoleApi(request, staff).delete(promotion_path(code))
    return redirect(request, "/console/promotions", flash=f"Promotion {code} deleted.")


def add_routes(router: web.UrlDispatcher) -> None:
    base = "/console/promotions"
    router.add_get(base, promotion_list)
    router.add_get(base + "/new", new_form)
    router.add_post(base + "/new", save)
    one = base + "/{code}"
    router.add_get(one, detail.promotion_page)
    router.add_get(one + "/edit", edit_form)
    router.add_post(one + "/edit", save)
    router.add_get(one + "/delete", delete_confirm)
    router.add_post(one + "/delete", delete)
    detail.add_routes(router, one)
