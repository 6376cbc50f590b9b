"""What the promotion pages share: the API's paths, what the signed-in role may do there
(the route table's templates, as whitelists name them), and API errors split for a form."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from gateway.console.client import ApiError
from gateway.console.pages.series_form import split_errors
from gateway.console.session import StaffContext

PROMOTIONS = "/api/v1/promotions"
PROMOTION = "/api/v1/promotions/{code}"
COUPONS = "/api/v1/promotions/{promotionCode}/coupons"
COUPON = "/api/v1/promotions/{promotionCode}/coupons/{code}"
GENERATE = "/api/v1/promotions/{promotionCode}/coupons/generate"
JOB = "/api/v1/promotions/{promotionCode}/coupons/generate/{jobId}"
EXPORT = "/api/v1/promotions/{promotionCode}/coupons/export.csv"


def _part(value: str) -> str:
    return quote(value, safe="")


def promotion_path(code: str) -> str:
    return f"{PROMOTIONS}/{_part(code)}"


def coupons_path(code: str) -> str:
    return f"{promotion_path(code)}/coupons/"


def coupon_path(code: str, coupon: str) -> str:
    return f"{promotion_path(code)}/coupons/{_part(coupon)}"


def console_path(code: str, *rest: str) -> str:
    """A console page of the promotion: ``console_path("X", "coupons", "C", "edit")``."""
    return "/".join(["/console/promotions", _part(code), *(_part(r) for r in rest)])


@dataclass(frozen=True, slots=True)
class Allowed:
    """The promotion actions the role's whitelist lets it take: what the pages offer."""

    create: bool
    edit: bool
    delete: bool
    coupons: bool
    add_coupon: bool
    edit_coupon: bool
    delete_coupon: bool
    generate: bool
    follow_job: bool
    export: bool


def allowed(staff: StaffContext) -> Allowed:
    return Allowed(
        create=staff.may("POST", PROMOTIONS),
        edit=staff.may("PUT", PROMOTION),
        delete=staff.may("DELETE", PROMOTION),
        coupons=staff.may("GET", COUPONS),
        add_coupon=staff.may("POST", COUPONS),
        edit_coupon=staff.may("PUT", COUPON),
        delete_coupon=staff.may("DELETE", COUPON),
        generate=staff.may("POST", GENERATE),
        follow_job=staff.may("GET", JOB),
        export=staff.may("GET", EXPORT),
    )


def shown_on_form(exc: ApiError) -> bool:
    """An API refusal a form shows in words (a field error, a role's refusal, a limit);
    anything else (the promotion gone, the API down) becomes the console's error page."""
    return 400 <= exc.status < 500 and exc.status not in (401, 404)


def form_errors(exc: ApiError, fields: Iterable[str]) -> tuple[dict[str, str], str | None]:
    """The API's field errors for the fields the form has (shown next to them), and a
    message with the rest (shown above the form)."""
    return split_errors(exc, set(fields))
