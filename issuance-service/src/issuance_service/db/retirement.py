"""The tables whose rows the ``redis_dead_objects`` retention job retires
(coupon_core.retirement): series and issued coupons past their validity (a coupon's
``valid_till``, a series' ``validTillDate``) by more than the grace period. A series'
keys are every key under its hash tag (facts, redemption and issuance counters, warm
markers); a coupon's include the redemption counter of the customer it was issued to."""

from __future__ import annotations

from coupon_core import redis_keys
from coupon_core.retirement import Coupons, Groups, Schema

SCHEMA = Schema(
    redis_keys.SERIES,
    Groups("series", ends="valid_till_date", ref="id"),
    Coupons("issued_coupons", ends="valid_till", group_id="series_id", customer_id="customer_id"),
)
