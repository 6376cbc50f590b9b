-- Retirement of dead promotions' and coupons' Redis keys (the redis_dead_objects retention
-- job): set once an object's keys are gone, so each is retired once and the facts
-- republisher leaves it out. Changing the object clears it (it may be alive again).
ALTER TABLE promotions ADD COLUMN retired_at timestamptz;
ALTER TABLE coupons ADD COLUMN retired_at timestamptz;
-- The job's next batch: promotions by end, coupons by expiry and by promotion, each index
-- holding only what is still unretired.
CREATE INDEX promotions_to_retire ON promotions (ends_at) WHERE retired_at IS NULL;
CREATE INDEX coupons_to_retire ON coupons (expires_at) WHERE retired_at IS NULL;
CREATE INDEX coupons_unretired ON coupons (promotion_id, id) WHERE retired_at IS NULL;
