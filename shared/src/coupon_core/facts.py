"""What an owning service publishes about its coupons so that the redemption service can
judge a code without calling it (SPEC sections 3 to 6).

Facts are JSON values under the keys of :mod:`coupon_core.keyspace`. Times are Unix
seconds (UTC); ``None`` means "no limit" / "no bound".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Discount(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["ABS", "PERC"]
    value: float  # ABS: an amount; PERC: percent, 0..100
    upto: float = 0.0  # PERC cap, 0 = none


class SubscriptionGrant(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_type_id: int
    subscription_type_name: str
    length_days: int


class GroupFacts(BaseModel):
    """A series or a promotion: what every coupon of it shares."""

    model_config = ConfigDict(frozen=True)

    group: str  # keyspace.group_ref: "S:123" or "P:HOLIDAY-SALE"
    starts_at: int | None = None
    ends_at: int | None = None
    total_limit: int | None = None  # series maxRedeem / promotion usageLimit
    per_customer_limit: int | None = None  # series maxRedemptionsInSeriesPerUser
    any_user: bool = True  # False: only the customer a coupon was issued to may redeem it
    discount: Discount | None = None
    min_amount: float | None = None  # promotion rule item_total
    require_transaction_number: bool = False
    grant: SubscriptionGrant | None = None  # promotion action grant_subscription
    # Echoed in redeem responses:
    discount_code: str = ""
    series_code: str = ""
    description: str = ""


class CouponFacts(BaseModel):
    """One coupon code."""

    model_config = ConfigDict(frozen=True)

    code: str
    group: str
    coupon_id: int
    customer_id: str | None = None  # issued to (series coupons)
    expires_at: int | None = None
    usage_limit: int | None = None  # total redemptions of this coupon
    per_customer_limit: int | None = None  # redemptions of this coupon by one customer
