"""What the issuance service keeps: customers, coupon series and issued coupons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coupon_core import redis_keys
from coupon_core.redis_keys import CustomerIdentifier

# The settable attributes of a series, in column order (counters and timestamps excluded).
SERIES_SETTINGS: tuple[str, ...] = (
    "description",
    "discount_code",
    "discount_type",
    "discount_value",
    "discount_upto",
    "discount_on",
    "detailed_info",
    "valid_till_date",
    "valid_days_from_creation",
    "max_create",
    "max_redeem",
    "redemption_per_coupon_max_limit",
    "max_redemptions_in_series_per_user",
    "same_user_multiple_redeem",
    "any_user",
    "max_vouchers_per_user",
    "min_days_between_vouchers",
    "coupon_prefix",
    "coupon_suffix",
    "random_code_length",
)


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    first_name: str
    last_name: str
    mobile: str | None
    email: str | None
    external_id: str | None
    updated_at: datetime

    def identifiers(self) -> dict[CustomerIdentifier, str]:
        found: dict[CustomerIdentifier, str] = {}
        if self.mobile:
            found["mobile"] = self.mobile
        if self.email:
            found["email"] = self.email
        if self.external_id:
            found["externalId"] = self.external_id
        return found


@dataclass(frozen=True, slots=True)
class Series:
    id: int
    description: str
    discount_code: str
    discount_type: str
    discount_value: float
    discount_upto: float
    discount_on: str
    detailed_info: str
    valid_till_date: datetime
    valid_days_from_creation: int
    max_create: int
    max_redeem: int
    redemption_per_coupon_max_limit: int
    max_redemptions_in_series_per_user: int
    same_user_multiple_redeem: bool
    any_user: bool
    max_vouchers_per_user: int
    min_days_between_vouchers: int
    coupon_prefix: str
    coupon_suffix: str
    random_code_length: int
    num_issued: int | None  # None where it was not counted (the issue path)
    num_redeemed: int
    created_at: datetime
    updated_at: datetime

    @property
    def group(self) -> str:
        return redis_keys.group_ref(redis_keys.SERIES, self.id)


@dataclass(frozen=True, slots=True)
class IssuedCoupon:
    id: int
    series_id: int
    customer_id: int
    code: str
    valid_till: datetime
    issued_at: datetime
    redemption_count: int


@dataclass(frozen=True, slots=True)
class CustomerCounter:
    """What a rebuild installs for one customer of a series."""

    customer_id: int
    issued: int
    last_issued_at: datetime


@dataclass(frozen=True, slots=True)
class SeriesIssued:
    """A series' coupons issued, against its maxCreate (-1: unlimited)."""

    id: int
    description: str
    max_create: int
    issued: int
