"""What the redemption service needs to know about a promotion and its coupons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coupon_core import redis_keys
from coupon_core.facts import CouponFacts, Discount, GroupFacts, SubscriptionGrant

from promotion_service.domain.models import Coupon, Promotion
from promotion_service.domain.times import unix


def group_of(promotion_code: str) -> str:
    return redis_keys.group_ref(redis_keys.PROMOTION, promotion_code)


def _discount(actions: list[dict[str, Any]]) -> Discount | None:
    for action in actions:
        config: Mapping[str, Any] = action.get("configuration") or {}
        if action.get("type") == "order_fixed_discount":
            return Discount(type="ABS", value=float(config["amount"]))
        if action.get("type") == "order_percentage_discount":
            return Discount(type="PERC", value=round(float(config["percentage"]) * 100, 6))
    return None


def _grant(actions: list[dict[str, Any]]) -> SubscriptionGrant | None:
    for action in actions:
        if action.get("type") == "grant_subscription":
            config = action["configuration"]
            return SubscriptionGrant(
                subscription_type_id=int(config["subscriptionTypeId"]),
                subscription_type_name=str(config["subscriptionTypeName"]),
                length_days=int(config["lengthDays"]),
            )
    return None


def _min_amount(rules: list[dict[str, Any]]) -> float | None:
    for rule in rules:
        if rule.get("type") == "item_total":
            return float(rule["configuration"]["amount"])
    return None


def group_facts(promotion: Promotion) -> GroupFacts:
    return GroupFacts(
        group=group_of(promotion.code),
        starts_at=unix(promotion.starts_at),
        ends_at=unix(promotion.ends_at),
        total_limit=promotion.usage_limit,
        discount=_discount(promotion.actions),
        min_amount=_min_amount(promotion.rules),
        grant=_grant(promotion.actions),
        discount_code=promotion.code,
        series_code=promotion.code,
        description=promotion.description or promotion.name,
    )


def coupon_facts(coupon: Coupon) -> CouponFacts:
    return CouponFacts(
        code=coupon.code,
        group=group_of(coupon.promotion_code),
        coupon_id=coupon.id,
        expires_at=unix(coupon.expires_at),
        usage_limit=coupon.usage_limit,
        per_customer_limit=coupon.per_customer_usage_limit,
    )
