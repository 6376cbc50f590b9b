"""What the service stores, as plain typed values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Promotion:
    id: int
    code: str
    name: str
    description: str | None
    priority: int
    exclusive: bool
    usage_limit: int | None
    used: int
    coupon_based: bool
    starts_at: datetime | None
    ends_at: datetime | None
    rules: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    channels: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Coupon:
    id: int
    promotion_code: str
    code: str
    usage_limit: int | None
    per_customer_usage_limit: int | None
    expires_at: datetime | None
    used: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CouponLimits:
    """What a coupon form sets (PUT replaces all three, PATCH some)."""

    usage_limit: int | None = None
    per_customer_usage_limit: int | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class GenerationJob:
    id: int
    promotion_id: int
    promotion_code: str
    state: str
    total: int
    done: int
    code_length: int
    prefix: str
    suffix: str
    expires_at: datetime | None
    usage_limit: int | None
    per_customer_usage_limit: int | None
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PromotionUsage:
    """A promotion's uses against its limit (None: unlimited)."""

    code: str
    name: str
    used: int
    usage_limit: int | None


@dataclass(frozen=True, slots=True)
class CouponUsage:
    """A coupon's uses against its limit."""

    promotion_code: str
    code: str
    used: int
    usage_limit: int
