-- The redemption statistics (GET /v2/coupon/redemptions/stats; docs/redemption.md,
-- "Statistics"), kept small so that a read costs the same at any ledger size.
--
-- Redemptions per UTC hour, and per UTC day and limit group, counted from the ledger by
-- the roll-up (workers/stats.py): each pass adds the rows redeemed in [upto, a later
-- upto) and moves redemption_rollup.upto in the same transaction, so each row is counted
-- once. It stays RECONCILE_MARGIN_S behind the clock, for ledger statements still in
-- flight; a read adds what the ledger holds from upto on.
CREATE TABLE redemption_hours (
    hour     timestamptz PRIMARY KEY,
    redeemed bigint      NOT NULL
);

CREATE TABLE redemption_group_days (
    day       date   NOT NULL,
    group_ref text   NOT NULL,
    redeemed  bigint NOT NULL,
    PRIMARY KEY (day, group_ref)
);

-- One row. Ledger rows from more than the longest window the statistics show are never
-- counted (a pass jumps over time without rows).
CREATE TABLE redemption_rollup (
    one  boolean     PRIMARY KEY DEFAULT true CHECK (one),
    upto timestamptz NOT NULL
);
INSERT INTO redemption_rollup (upto) VALUES (date_trunc('day', now() - interval '90 days', 'UTC'));

-- What redeem answered per item (refusals are not in the ledger): tallied in memory by
-- each replica and added here with one upsert per flush, per UTC day, item status, and
-- whether the item was redeemed (700 not redeemed: valid, but its all-or-nothing request
-- failed). A few dozen rows a day.
CREATE TABLE redemption_outcomes (
    day      date     NOT NULL,
    status   smallint NOT NULL,
    redeemed boolean  NOT NULL,
    n        bigint   NOT NULL,
    PRIMARY KEY (day, status, redeemed)
);
