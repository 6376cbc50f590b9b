-- GET /v2/coupon/issue/stats reads issues from these tallies rather than counting the
-- issued coupons (docs/issuance.md, "Statistics"). Every coupon issued before
-- issue_tally.tallied_until (always the start of an hour) is counted in series_issued
-- (by series) and, when of the last 91 days, in issue_hours (by UTC hour); a read counts
-- only the coupons issued since, through the BRIN index issued_coupons_recent. A pass of
-- the tally (workers/tally.py) moves the line up to the start of the hour ten minutes ago,
-- counting each hour once. Until the first pass every coupon is since the line.
CREATE TABLE issue_tally (
    one           boolean     PRIMARY KEY DEFAULT true CHECK (one),
    tallied_until timestamptz NOT NULL
);
INSERT INTO issue_tally (tallied_until) VALUES ('-infinity');

CREATE TABLE issue_hours (
    hour   timestamptz PRIMARY KEY,
    issued bigint      NOT NULL
);

-- No foreign key: a series is never deleted, and the check would lock its row each pass.
CREATE TABLE series_issued (
    series_id bigint PRIMARY KEY,
    issued    bigint NOT NULL
);
