"""Console pages: one promotion (docs/console.md): its fields, its coupons page by page,
adding, editing and deleting a coupon, generating coupons (a job above the API's
synchronous limit, followed live on its own page) and the CSV export as a download."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.console.client import ApiError, ConsoleApi
from gateway.console.pages.listing import (
    first_page,
    form_page,
    page_number,
    past,
    require_action,
    when,
)
from gateway.console.pages.promotion_api import (
    COUPON,
    COUPONS,
    allowed,
    console_path,
    coupon_path,
    coupons_path,
    form_errors,
    promotion_path,
    shown_on_form,
)
from gateway.console.pages.promotion_form import (
    COUPON_FIELDS,
    GENERATE_FIELDS,
    coupon_body,
    coupon_fields,
    describe_action,
    describe_rule,
    generate_body,
    values,
)
from gateway.console.render import redirect, render
from gateway.console.session import StaffContext, checked_form, require_staff

COUPONS_PER_PAGE = 20
FINISHED = ("done", "failed")
GENERATE_DEFAULTS = {"amount": "", "codeLength": "10"}


async def _detail(
    request: web.Request,
    staff: StaffContext,
    code: str,
    *,
    status: int = 200,
    generate: dict[str, str] | None = None,
    generate_errors: dict[str, str] | None = None,
    generate_message: str | None = None,
) -> web.Response:
    api = ConsoleApi(request, staff)
    may = allowed(staff)
    promotion = await api.get(promotion_path(code))
    coupons: dict[str, Any] | None = None
    if promotion.get("couponBased") and may.coupons:
        page = page_number(request)
        try:
            coupons = await api.get(
                coupons_path(code), params={"page": page, "limit": COUPONS_PER_PAGE}
            )
        except ApiError as exc:
            if exc.status == 404 and page > 1 and request.method == "GET":
                return first_page(request, page)
            raise
    return render(
        request,
        "promotions/detail.html",
        staff=staff,
        status=status,
        title=f"Promotion {promotion['name']}",
        promotion=promotion,
        rules=[describe_rule(r) for r in promotion.get("rules", [])],
        actions=[describe_action(a) for a in promotion.get("actions", [])],
        coupons=coupons,
        allowed=may,
        base=console_path(code),
        generate={**GENERATE_DEFAULTS, **(generate or {})},
        generate_errors=generate_errors or {},
        generate_message=generate_message,
        when=when,
        past=past,
    )


async def promotion_page(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return await _detail(request, staff, request.match_info["code"])


def _coupon_form(
    request: web.Request,
    staff: StaffContext,
    *,
    code: str,
    coupon: str | None,
    fields: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    return form_page(
        request,
        staff,
        "promotions/coupon_form.html",
        status=status,
        title=f"Edit coupon {coupon}" if coupon else f"New coupon for {code}",
        code=code,
        coupon=coupon,
        action=console_path(code, "coupons", coupon, "edit")
        if coupon
        else console_path(code, "coupons", "new"),
        cancel=console_path(code),
        fields=fields,
        errors=errors,
        message=message,
    )


async def new_coupon(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    code = request.match_info["code"]
    require_action(staff, "POST", COUPONS, "add coupons")
    await ConsoleApi(request, staff).get(promotion_path(code))  # a 404 for no such promotion
    return _coupon_form(request, staff, code=code, coupon=None, fields={})


async def edit_coupon(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    code, coupon = request.match_info["code"], request.match_info["coupon"]
    require_action(staff, "PUT", COUPON, "change coupons")
    found = await ConsoleApi(request, staff).get(coupon_path(code, coupon))
    return _coupon_form(request, staff, code=code, coupon=coupon, fields=coupon_fields(found))


async def save_coupon(request: web.Request) -> web.Response:
    """POST of the new coupon form (POST to the API) or of the edit form (PUT: the limits
    and expiry as the form shows them)."""
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    code, coupon = request.match_info["code"], request.match_info.get("coupon")
    parsed = coupon_body(form, with_code=coupon is None)
    typed = values(form, COUPON_FIELDS)
    if parsed.errors:
        return _coupon_form(
            request, staff, code=code, coupon=coupon, fields=typed, errors=parsed.errors, status=400
        )
    api = ConsoleApi(request, staff)
    try:
        if coupon is None:
            created = await api.post(coupons_path(code), json=parsed.body)
            flash = f"Coupon {created['code']} created."
        else:
            await api.put(coupon_path(code, coupon), json=parsed.body)
            flash = f"Coupon {coupon} saved."
    except ApiError as exc:
        if not shown_on_form(exc):
            raise
        errors, message = form_errors(exc, COUPON_FIELDS)
        return _coupon_form(
            request,
            staff,
            code=code,
            coupon=coupon,
            fields=typed,
            errors=errors,
            message=message,
            status=exc.status,
        )
    return redirect(request, console_path(code), flash=flash)


async def delete_coupon_confirm(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    code, coupon = request.match_info["code"], request.match_info["coupon"]
    require_action(staff, "DELETE", COUPON, "delete coupons")
    found = await ConsoleApi(request, staff).get(coupon_path(code, coupon))
    return render(
        request,
        "promotions/coupon_delete.html",
        staff=staff,
        title=f"Delete coupon {coupon}",
        code=code,
        coupon=found,
        action=console_path(code, "coupons", coupon, "delete"),
        cancel=console_path(code),
    )


async def delete_coupon(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    await checked_form(request, staff)
    code, coupon = request.match_info["code"], request.match_info["coupon"]
    await ConsoleApi(request, staff).delete(coupon_path(code, coupon))
    return redirect(request, console_path(code), flash=f"Coupon {coupon} deleted.")


async def generate(request: web.Request) -> web.Response:
    """POST of the generate form: within the API's synchronous limit the codes exist when
    it answers (back to the promotion); above it a job starts, followed on its own page."""
    staff = await require_staff(request)
    form = await checked_form(request, staff)
    code = request.match_info["code"]
    parsed = generate_body(form)
    typed = values(form, GENERATE_FIELDS)
    if parsed.errors:
        return await _detail(
            request, staff, code, status=400, generate=typed, generate_errors=parsed.errors
        )
    try:
        answer = await ConsoleApi(request, staff).post(
            f"{promotion_path(code)}/coupons/generate", json=parsed.body
        )
    except ApiError as exc:
        if not shown_on_form(exc):
            raise
        errors, message = form_errors(exc, GENERATE_FIELDS)
        return await _detail(
            request,
            staff,
            code,
            status=exc.status,
            generate=typed,
            generate_errors=errors,
            generate_message=message,
        )
    if "id" in answer and allowed(staff).follow_job:
        return redirect(request, console_path(code, "jobs", str(answer["id"])))
    if "id" in answer:
        return redirect(
            request, console_path(code), flash=f"Generation job {answer['id']} started."
        )
    return redirect(request, console_path(code), flash=f"{answer['amount']} coupons generated.")


def _job_path(request: web.Request) -> str:
    code, job = request.match_info["code"], request.match_info["job"]
    return f"{promotion_path(code)}/coupons/generate/{job}"


def _progress_text(job: dict[str, Any]) -> str:
    """The job's progress in words, the same on the page and in console.js's updates."""
    return f"{job['done']:,} of {job['total']:,} codes generated ({job['state']})"


async def job_page(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    code, job_id = request.match_info["code"], request.match_info["job"]
    job = await ConsoleApi(request, staff).get(_job_path(request))
    return render(
        request,
        "promotions/job.html",
        staff=staff,
        title=f"Generating coupons for {code}",
        code=code,
        job=job,
        progress_text=_progress_text(job),
        finished=job["state"] in FINISHED,
        json_url=console_path(code, "jobs", f"{job_id}.json"),
        promotion_url=console_path(code),
        when=when,
    )


async def job_json(request: web.Request) -> web.Response:
    """The job's progress for console.js: its state, codes generated and requested, the
    page's sentence about them and when it last moved."""
    staff = await require_staff(request)
    try:
        job = await ConsoleApi(request, staff).get(_job_path(request))
    except ApiError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    body = {
        "state": job["state"],
        "generated": job["done"],
        "requested": job["total"],
        "text": _progress_text(job),
        "updated": when(job.get("updatedAt")),
    }
    if job.get("error"):
        body["error"] = job["error"]
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def export(request: web.Request) -> web.StreamResponse:
    """The API's CSV of every coupon, streamed through as a download."""
    staff = await require_staff(request)
    code = request.match_info["code"]
    return await ConsoleApi(request, staff).stream(
        request, f"{promotion_path(code)}/coupons/export.csv", filename=f"{code}-coupons.csv"
    )


def add_routes(router: web.UrlDispatcher, one: str) -> None:
    """The routes under ``one`` (``/console/promotions/{code}``)."""
    router.add_get(one + "/coupons/new", new_coupon)
    router.add_post(one + "/coupons/new", save_coupon)
    router.add_get(one + "/coupons/{coupon}/edit", edit_coupon)
    router.add_post(one + "/coupons/{coupon}/edit", save_coupon)
    router.add_get(one + "/coupons/{coupon}/delete", delete_coupon_confirm)
    router.add_post(one + "/coupons/{coupon}/delete", delete_coupon)
    router.add_post(one + "/generate", generate)
    router.add_get(one + r"/jobs/{job:\d+}.json", job_json)
    router.add_get(one + r"/jobs/{job:\d+}", job_page)
    router.add_get(one + "/export.csv", export)
