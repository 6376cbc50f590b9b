"""What an owning service publishes about its coupons so that the redemption service can
judge a code without calling it (SPEC sections 3 to 6).

Facts are JSON values under the keys of :mod:`coupon_core.redis_keys`. Times are Unix
seconds (UTC); ``None`` means "no limit" / "no bound".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis

from coupon_core import redis_keys


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

    group: str  # redis_keys.group_ref: "S:123" or "P:HOLIDAY-SALE"
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


async def publish(redis: Redis, group: GroupFacts, coupons: Sequence[CouponFacts] = ()) -> None:
    """Write a group's facts and any of its coupons' facts in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(redis_keys.group_facts(group.group), group.model_dump_json())
        for coupon in coupons:
            pipe.set(redis_keys.coupon_facts(coupon.group, coupon.code), coupon.model_dump_json())
        await pipe.execute()


async def publish_coupons(redis: Redis, coupons: Sequence[CouponFacts]) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for coupon in coupons:
            pipe.set(redis_keys.coupon_facts(coupon.group, coupon.code), coupon.model_dump_json())
        await pipe.execute()


async def retract_coupon(redis: Redis, group: str, code: str) -> None:
    await redis.delete(redis_keys.coupon_facts(group, code))


async def read(redis: Redis, group: str, code: str) -> tuple[GroupFacts | None, CouponFacts | None]:
    """The facts of ``code`` in ``group`` (both keys share the group's slot: one MGET)."""
    raw_group, raw_coupon = await redis.mget(
        [redis_keys.group_facts(group), redis_keys.coupon_facts(group, code)]
    )
    return (
        GroupFacts.model_validate_json(raw_group) if raw_group else None,
        CouponFacts.model_validate_json(raw_coupon) if raw_coupon else None,
    )
