"""The tables whose rows the ``redis_dead_objects`` retention job retires
(coupon_core.retirement): promotions and coupons expired (a coupon's ``expiresAt``) or
ended (its promotion's ``endsAt``) more than the grace period ago. Deleted promotions and
coupons need nothing here: their facts and code registry entries go with them, and the
redemption service drops the counters of codes and groups whose facts are gone."""

from __future__ import annotations

from coupon_core import redis_keys
from coupon_core.retirement import Coupons, Groups, Schema

SCHEMA = Schema(
    redis_keys.PROMOTION,
    Groups("promotions", ends="ends_at", ref="code"),
    Coupons("coupons", ends="expires_at", group_id="promotion_id"),
)
