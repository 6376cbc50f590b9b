"""The series form: every field ``POST``/``PUT /v2/coupon/series`` takes, as the form shows
it and as the API's JSON, and the API's field errors put back on the form's fields."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from multidict import MultiDictProxy

from gateway.console.client import ApiError
from gateway.console.pages.listing import when
from gateway.console.wording import field_label, placed

INT32 = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the API's (and the form's) name
    label: str
    kind: str  # text, textarea, decimal, integer, limit, date, choice, flag
    required: bool = False
    help: str | None = None
    choices: tuple[tuple[str, str], ...] = ()


UNLIMITED = "-1 means unlimited."
FIELDS = (
    Field("description", "Description", "text", required=True),
    Field("discountCode", "Discount code", "text", help="The code the checkout shows."),
    Field(
        "discountType",
        "Discount type",
        "choice",
        required=True,
        choices=(("ABS", "Absolute amount (ABS)"), ("PERC", "Percentage (PERC)")),
    ),
    Field("discountValue", "Discount value", "decimal", True, "An amount, or 0 to 100 for PERC."),
    Field(
        "discountUpto", "Discount cap", "decimal", help="The most a PERC discount gives; 0: none."
    ),
    Field("discountOn", "Discount on", "choice", choices=(("BILL", "Bill"), ("ITEM", "Item"))),
    Field("detailedInfo", "Detailed information", "textarea"),
    Field("validTillDate", "Valid till (UTC)", "date", required=True),
    Field(
        "validDaysFromCreation",
        "Valid days from issue",
        "limit",
        help="Each coupon's validity counted from its issue; the earlier end wins. " + UNLIMITED,
    ),
    Field("maxCreate", "Most coupons the series may issue", "limit", help=UNLIMITED),
    Field("maxRedeem", "Most redemptions across the series", "limit", help=UNLIMITED),
    Field("redemptionPerCouponMaxLimit", "Redemptions per coupon", "limit", help=UNLIMITED),
    Field("maxRedemptionsInSeriesPerUser", "Redemptions per customer", "limit", help=UNLIMITED),
    Field("maxVouchersPerUser", "Coupons per customer", "limit", help=UNLIMITED),
    Field("minDaysBetweenVouchers", "Days between a customer's coupons", "limit", help=UNLIMITED),
    Field("sameUserMultipleRedeem", "A customer may redeem a coupon more than once", "flag"),
    Field("anyUser", "Any customer may redeem a coupon (not only its owner)", "flag"),
    Field("couponPrefix", "Code prefix", "text", help="Letters, digits, - and _."),
    Field("couponSuffix", "Code suffix", "text", help="Letters, digits, - and _."),
    Field("randomCodeLength", "Random characters in a code", "integer", help="4 to 32."),
)
DEFAULTS = {
    "discountType": "ABS",
    "discountOn": "BILL",
    "discountUpto": "0",
    "redemptionPerCouponMaxLimit": "1",
    "randomCodeLength": "10",
    **{
        f.name: "-1"
        for f in FIELDS
        if f.kind == "limit" and f.name != "redemptionPerCouponMaxLimit"
    },
}
_INTEGER = re.compile(r"-?\d{1,10}")


def _local_input(value: Any) -> str:
    """An API time as a ``datetime-local`` control's value (UTC, to the minute)."""
    shown = when(value)
    return shown[:16].replace(" ", "T") if shown else ""


def form_values(series: dict[str, Any]) -> dict[str, str]:
    """A series (the API's JSON) as the form's values."""
    values: dict[str, str] = {}
    for f in FIELDS:
        value = series.get(f.name)
        if f.kind == "flag":
            values[f.name] = "true" if value else ""
        elif f.kind == "date":
            values[f.name] = _local_input(value)
        elif isinstance(value, float) and value.is_integer():
            values[f.name] = str(int(value))
        else:
            values[f.name] = "" if value is None else str(value)
    return values


def parse_form(form: MultiDictProxy[Any]) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """The submitted values (to show again), the API body and the errors found before any
    call: a number that is not one. A field left empty is left out (the API's default on
    create; unchanged on edit)."""
    values: dict[str, str] = {}
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in FIELDS:
        raw = form.get(f.name, "")
        text = raw.strip() if isinstance(raw, str) else ""
        values[f.name] = text
        if f.kind == "flag":
            body[f.name] = text != ""
        elif not text:
            continue
        elif f.kind in ("integer", "limit"):
            if _INTEGER.fullmatch(text) and -1 <= int(text) <= INT32:
                body[f.name] = int(text)
            else:
                errors[f.name] = "Enter a whole number."
        elif f.kind == "decimal":
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                body[f.name] = int(number) if number.is_integer() else number
            else:
                errors[f.name] = "Enter a number."
        else:
            body[f.name] = raw if f.kind == "textarea" else text
    return values, body, errors


def _about(name: str, text: str) -> str:
    """An error on no field of the form, for the message above it."""
    return text if name in ("body", "") else f"{field_label(name)}: {text}"


def split_errors(exc: ApiError, names: set[str]) -> tuple[dict[str, str], str | None]:
    """The API's field errors on the form's fields, and the rest as one message."""
    found = placed(exc.fields, names)
    fields = {name: text for name, text in found.items() if name in names}
    rest = [_about(name, text) for name, text in found.items() if name not in names]
    if not exc.fields:
        rest = [exc.message]
    return fields, "; ".join(rest) or None
