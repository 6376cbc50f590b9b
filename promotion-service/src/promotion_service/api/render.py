"""Response bodies: Sylius shapes, null fields left out."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from promotion_service.domain.models import Coupon, GenerationJob, Promotion
from promotion_service.domain.times import format_date

BASE = "/api/v1/promotions"


def promotion_href(code: str) -> str:
    return f"{BASE}/{code}"


def coupon_href(promotion_code: str, code: str) -> str:
    return f"{BASE}/{promotion_code}/coupons/{code}"


def _without_nulls(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def _date(value: Any, zone: tzinfo) -> str | None:
    return None if value is None else format_date(value, zone)


def coupon(c: Coupon, zone: tzinfo) -> dict[str, Any]:
    return _without_nulls(
        {
            "id": c.id,
            "code": c.code,
            "usageLimit": c.usage_limit,
            "used": c.used,
            "expiresAt": _date(c.expires_at, zone),
            "createdAt": _date(c.created_at, zone),
            "updatedAt": _date(c.updated_at, zone),
            "perCustomerUsageLimit": c.per_customer_usage_limit,
            "_links": {
                "self": {"href": coupon_href(c.promotion_code, c.code)},
                "promotion": {"href": promotion_href(c.promotion_code)},
            },
        }
    )


def coupon_item(c: Coupon, zone: tzinfo) -> dict[str, Any]:
    return _without_nulls(
        {
            "id": c.id,
            "code": c.code,
            "usageLimit": c.usage_limit,
            "used": c.used,
            "expiresAt": _date(c.expires_at, zone),
            "_links": {"self": {"href": coupon_href(c.promotion_code, c.code)}},
        }
    )


def promotion(p: Promotion, zone: tzinfo) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": promotion_href(p.code)}}
    if p.coupon_based:
        links["coupons"] = {"href": f"{promotion_href(p.code)}/coupons/"}
    return _without_nulls(
        {
            "id": p.id,
            "code": p.code,
            "name": p.name,
            "description": p.description,
            "priority": p.priority,
            "exclusive": p.exclusive,
            "usageLimit": p.usage_limit,
            "used": p.used,
            "couponBased": p.coupon_based,
            "startsAt": _date(p.starts_at, zone),
            "endsAt": _date(p.ends_at, zone),
            "rules": p.rules,
            "actions": p.actions,
            "channels": p.channels,
            "createdAt": _date(p.created_at, zone),
            "updatedAt": _date(p.updated_at, zone),
            "_links": links,
        }
    )


def job(j: GenerationJob, zone: tzinfo) -> dict[str, Any]:
    href = f"{promotion_href(j.promotion_code)}/coupons/generate/{j.id}"
    return _without_nulls(
        {
            "id": j.id,
            "state": j.state,
            "done": j.done,
            "total": j.total,
            "error": j.error,
            "createdAt": _date(j.created_at, zone),
            "updatedAt": _date(j.updated_at, zone),
            "_links": {
                "self": {"href": href},
                "coupons": {"href": f"{promotion_href(j.promotion_code)}/coupons/"},
            },
        }
    )
