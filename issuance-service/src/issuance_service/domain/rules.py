"""Series rules: validity of an issued coupon, expiry, and the facts redemption relies on."""

from __future__ import annotations

from datetime import datetime, timedelta

from coupon_core.facts import CouponFacts, Discount, GroupFacts

from issuance_service.domain.models import IssuedCoupon, Series


def unlimited(limit: int) -> int | None:
    """Series limits use -1 for "no limit"; facts use None."""
    return None if limit < 0 else limit


def coupon_valid_till(series: Series, *, issued_at: datetime) -> datetime:
    """The earlier of the series end and the per-coupon validity counted from issue."""
    days = series.valid_days_from_creation
    # Past the series end in whole days, the end wins; adding ~2**31 days would overflow.
    if days < 0 or days > (series.valid_till_date - issued_at).days:
        return series.valid_till_date
    return min(series.valid_till_date, issued_at + timedelta(days=days))


def is_expired(series: Series, *, now: datetime) -> bool:
    return series.valid_till_date <= now


def min_seconds_between_issues(series: Series) -> int:
    return max(series.min_days_between_vouchers, 0) * 86_400


def group_facts(series: Series) -> GroupFacts:
    return GroupFacts(
        group=series.group,
        ends_at=int(series.valid_till_date.timestamp()),
        total_limit=unlimited(series.max_redeem),
        per_customer_limit=unlimited(series.max_redemptions_in_series_per_user),
        any_user=series.any_user,
        discount=Discount(
            type="PERC" if series.discount_type == "PERC" else "ABS",
            value=series.discount_value,
            upto=series.discount_upto,
        ),
        discount_code=series.discount_code,
        series_code=str(series.id),
        description=series.description,
    )


def coupon_facts(series: Series, coupon: IssuedCoupon) -> CouponFacts:
    return CouponFacts(
        code=coupon.code,
        group=series.group,
        coupon_id=coupon.id,
        customer_id=str(coupon.customer_id),
        expires_at=int(coupon.valid_till.timestamp()),
        usage_limit=unlimited(series.redemption_per_coupon_max_limit),
        per_customer_limit=None if series.same_user_multiple_redeem else 1,
    )
