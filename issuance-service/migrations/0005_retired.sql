-- Retirement of dead series' and issued coupons' Redis keys (the redis_dead_objects
-- retention job): set once an object's keys are gone, so each is retired once and the facts
-- republisher leaves it out. Changing a series clears its mark (it may be alive again).
ALTER TABLE series ADD COLUMN retired_at timestamptz;
ALTER TABLE issued_coupons ADD COLUMN retired_at timestamptz;
-- The job's next batch: series and coupons by end of validity, coupons by series, each index
-- holding only what is still unretired.
CREATE INDEX series_to_retire ON series (valid_till_date) WHERE retired_at IS NULL;
CREATE INDEX issued_coupons_to_retire ON issued_coupons (valid_till) WHERE retired_at IS NULL;
CREATE INDEX issued_coupons_unretired ON issued_coupons (series_id, id) WHERE retired_at IS NULL;
