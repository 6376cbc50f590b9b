-- GET /api/v1/promotion-stats: the 20 used limited coupons that burned the most of their
-- limit, read in this index's order. Only coupons with a limit that were used are in it, so
-- it stays as small as the redeemed part of the coupons table, and a coupon enters it with
-- its first use. (The expression is computed only for rows the predicate admits: never a
-- division by zero.)
CREATE INDEX coupons_burn ON coupons ((used::float8 / usage_limit) DESC, used DESC, id)
    WHERE used > 0 AND usage_limit > 0;
