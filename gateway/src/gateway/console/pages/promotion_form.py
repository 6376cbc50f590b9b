"""The promotion and coupon forms of the console: what the browser posts (text fields) to the
API's JSON, and the API's JSON back to the fields an edit form shows.

Numbers are read here, because the API's types are strict (``"12"`` is not a number): text
where a number belongs is a field error before the API is asked. Everything else (a name
left blank, an end before the start, a code taken) is the API's to say, and the page shows
the API's words next to the field it names. The form's fields carry the API's names where
there is one (``usageLimit``, ``startsAt``), so an error the API names lands on its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

WHOLE = "Enter a whole number."
NUMBER = "Enter a number."
PERCENT = "Enter a percentage from 0 to 100."
_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# The configuration fields of the rules and actions the API knows, as the form names them.
ITEM_TOTAL = "item_total_amount"
NTH_ORDER = "nth_order_nth"
PERCENTAGE = "percentage"
FIXED = "fixed_amount"
GRANT_ID = "grant_type_id"
GRANT_NAME = "grant_type_name"
GRANT_DAYS = "grant_length_days"
GRANT = (GRANT_ID, GRANT_NAME, GRANT_DAYS)

TEXT_FIELDS = ("code", "name", "description", "channels", GRANT_NAME)
NUMBER_FIELDS = ("priority", "usageLimit", ITEM_TOTAL, NTH_ORDER, PERCENTAGE, FIXED, GRANT_ID)
DATE_FIELDS = ("startsAt", "endsAt")
PROMOTION_FIELDS = (
    *TEXT_FIELDS,
    *NUMBER_FIELDS,
    *DATE_FIELDS,
    GRANT_DAYS,
    "exclusive",
    "couponBased",
)
COUPON_FIELDS = ("code", "usageLimit", "perCustomerUsageLimit", "expiresAt")
GENERATE_FIELDS = (
    "amount",
    "codeLength",
    "prefix",
    "suffix",
    "usageLimit",
    "perCustomerUsageLimit",
    "expiresAt",
)


@dataclass
class Parsed:
    """A form read: the API's JSON, or the fields that could not be read."""

    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def values(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """What the browser sent for ``names`` (to show again), as text."""
    return {name: str(form.get(name, "")) for name in names}


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _whole(form: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    raw = _text(form, name)
    if not raw:
        return None
    if not re.fullmatch(r"[+-]?\d{1,12}", raw):
        errors[name] = WHOLE
        return None
    return int(raw)


def _decimal(raw: str) -> Decimal | None:
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _amount(form: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | float | None:
    """An amount as the API echoes it: an integer stays an integer, a decimal is a float."""
    raw = _text(form, name)
    if not raw:
        return None
    number = _decimal(raw) if len(raw) <= 32 else None
    if number is None:
        errors[name] = NUMBER
        return None
    if re.fullmatch(r"[+-]?\d+", raw):
        return int(raw)
    return float(number)


def _date(form: Mapping[str, Any], name: str) -> str | None:
    # A datetime-local value has no offset: the API reads it in its own zone, the zone it
    # writes dates in, so what the form showed is what is stored.
    return _text(form, name) or None


def _rules(form: Mapping[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    amount = _amount(form, ITEM_TOTAL, errors)
    if amount is not None:
        rules.append({"type": "item_total", "configuration": {"amount": amount}})
    nth = _whole(form, NTH_ORDER, errors)
    if nth is not None:
        rules.append({"type": "nth_order", "configuration": {"nth": nth}})
    return rules


def _actions(form: Mapping[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    raw = _text(form, PERCENTAGE)
    if raw:
        percent = _decimal(raw) if len(raw) <= 32 else None
        if percent is None or not 0 <= percent <= 100:
            errors[PERCENTAGE] = PERCENT
        else:
            actions.append(
                {
                    "type": "order_percentage_discount",
                    "configuration": {"percentage": float(percent / 100)},
                }
            )
    fixed = _amount(form, FIXED, errors)
    if fixed is not None:
        actions.append({"type": "order_fixed_discount", "configuration": {"amount": fixed}})
    if any(_text(form, name) for name in GRANT):
        type_id = _whole(form, GRANT_ID, errors)
        days = _whole(form, GRANT_DAYS, errors)
        name = _text(form, GRANT_NAME)
        for key, value, message in (
            (GRANT_ID, type_id, "Enter the subscription type's id."),
            (GRANT_NAME, name, "Enter the subscription type's name."),
            (GRANT_DAYS, days, "Enter the subscription's length in days."),
        ):
            if value is None or value == "":
                errors.setdefault(key, message)
        if GRANT_ID not in errors and GRANT_NAME not in errors and GRANT_DAYS not in errors:
            actions.append(
                {
                    "type": "grant_subscription",
                    "configuration": {
                        "subscriptionTypeId": type_id,
                        "subscriptionTypeName": name,
                        "lengthDays": days,
                    },
                }
            )
    return actions


def promotion_body(form: Mapping[str, Any], *, with_code: bool) -> Parsed:
    """The API's promotion JSON: every field, so a PUT leaves nothing to chance."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "name": _text(form, "name"),
        "description": _text(form, "description") or None,
        "priority": _whole(form, "priority", errors),
        "exclusive": bool(form.get("exclusive")),
        "usageLimit": _whole(form, "usageLimit", errors),
        "startsAt": _date(form, "startsAt"),
        "endsAt": _date(form, "endsAt"),
        "couponBased": bool(form.get("couponBased")),
        "channels": [c.strip() for c in _text(form, "channels").split(",") if c.strip()],
        "rules": _rules(form, errors),
        "actions": _actions(form, errors),
    }
    if with_code:
        body = {"code": _text(form, "code"), **body}
    return Parsed(body={} if errors else body, errors=errors)


def coupon_body(form: Mapping[str, Any], *, with_code: bool) -> Parsed:
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "usageLimit": _whole(form, "usageLimit", errors),
        "perCustomerUsageLimit": _whole(form, "perCustomerUsageLimit", errors),
        "expiresAt": _date(form, "expiresAt"),
    }
    if with_code:
        body = {"code": _text(form, "code"), **body}
    return Parsed(body={} if errors else body, errors=errors)


def generate_body(form: Mapping[str, Any]) -> Parsed:
    """The generation request; a field left blank is left out (the API's default)."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "amount": _whole(form, "amount", errors),
        "codeLength": _whole(form, "codeLength", errors),
        "prefix": _text(form, "prefix"),
        "suffix": _text(form, "suffix"),
        "usageLimit": _whole(form, "usageLimit", errors),
        "perCustomerUsageLimit": _whole(form, "perCustomerUsageLimit", errors),
        "expiresAt": _date(form, "expiresAt"),
    }
    body = {k: v for k, v in body.items() if v not in (None, "")}
    return Parsed(body={} if errors else body, errors=errors)


def date_field(value: Any) -> str:
    """An API date (``2030-03-01T00:00:00+0000``, in the API's zone) as a datetime-local
    field shows it: to the minute, in that same zone."""
    text = value if isinstance(value, str) else ""
    match = _MINUTE.match(text)
    return match.group(0) if match else ""


def number_field(value: Any) -> str:
    return "" if value is None or isinstance(value, bool) else str(value)


def percent_field(fraction: Any) -> str:
    """0.15 (the API's percentage) as 15 (the form's)."""
    if not isinstance(fraction, int | float) or isinstance(fraction, bool):
        return ""
    return f"{round(fraction * 100, 6):g}"


def _config(items: Any, kind: str) -> dict[str, Any]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type") == kind:
            config = item.get("configuration")
            return config if isinstance(config, dict) else {}
    return {}


def promotion_fields(promotion: Mapping[str, Any]) -> dict[str, str]:
    """The edit form's fields for a promotion as the API shows it."""
    rules, actions = promotion.get("rules"), promotion.get("actions")
    grant = _config(actions, "grant_subscription")
    channels = promotion.get("channels")
    return {
        "code": str(promotion.get("code", "")),
        "name": str(promotion.get("name", "")),
        "description": str(promotion.get("description") or ""),
        "priority": number_field(promotion.get("priority")),
        "exclusive": "on" if promotion.get("exclusive") else "",
        "usageLimit": number_field(promotion.get("usageLimit")),
        "startsAt": date_field(promotion.get("startsAt")),
        "endsAt": date_field(promotion.get("endsAt")),
        "couponBased": "on" if promotion.get("couponBased") else "",
        "channels": ", ".join(str(c) for c in channels) if isinstance(channels, list) else "",
        ITEM_TOTAL: number_field(_config(rules, "item_total").get("amount")),
        NTH_ORDER: number_field(_config(rules, "nth_order").get("nth")),
        PERCENTAGE: percent_field(_config(actions, "order_percentage_discount").get("percentage")),
        FIXED: number_field(_config(actions, "order_fixed_discount").get("amount")),
        GRANT_ID: number_field(grant.get("subscriptionTypeId")),
        GRANT_NAME: str(grant.get("subscriptionTypeName") or ""),
        GRANT_DAYS: number_field(grant.get("lengthDays")),
    }


def coupon_fields(coupon: Mapping[str, Any]) -> dict[str, str]:
    return {
        "code": str(coupon.get("code", "")),
        "usageLimit": number_field(coupon.get("usageLimit")),
        "perCustomerUsageLimit": number_field(coupon.get("perCustomerUsageLimit")),
        "expiresAt": date_field(coupon.get("expiresAt")),
    }


def describe_rule(rule: Mapping[str, Any]) -> str:
    config = rule.get("configuration") or {}
    if rule.get("type") == "item_total":
        return f"Order total at least {number_field(config.get('amount'))}"
    if rule.get("type") == "nth_order":
        return f"The customer's order number {number_field(config.get('nth'))}"
    return str(rule.get("type", ""))


def describe_action(action: Mapping[str, Any]) -> str:
    config = action.get("configuration") or {}
    kind = action.get("type")
    if kind == "order_percentage_discount":
        return f"{percent_field(config.get('percentage'))} % off the order"
    if kind == "order_fixed_discount":
        return f"{number_field(config.get('amount'))} off the order"
    if kind == "grant_subscription":
        return (
            f"Grants the subscription {config.get('subscriptionTypeName', '')} "
            f"(type {config.get('subscriptionTypeId', '')}) for "
            f"{config.get('lengthDays', '')} days"
        )
    return str(kind or "")
