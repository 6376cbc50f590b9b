-- What the reconciler reads at volume (docs/redemption.md, "Reconciler"): which groups and
-- (code, customer) pairs changed since its last pass, and the live uses of those pairs,
-- without reading a whole group.
--
-- redeemed_at: a BRIN index, a few pages per month, free to maintain since rows arrive in
-- time order; with partition pruning a "since the last pass" read touches the newest pages
-- of the current month only (pages not yet summarised are always read, and they are the
-- newest). reversed_at: reversals are few, so a partial btree of the reversed rows.
CREATE INDEX redemptions_recent ON redemptions USING brin (redeemed_at);
CREATE INDEX redemptions_reversed ON redemptions (reversed_at) WHERE reversed_at IS NOT NULL;

-- The live uses of one (group, code, customer) are an index range; the group's, a prefix of
-- it (read index-only by a rebuild). It replaces redemptions_live_by_group (group_ref),
-- whose key is its first column, so a redeem still maintains the same number of btrees.
CREATE INDEX redemptions_live_uses ON redemptions (group_ref, code, customer_id)
    WHERE reversed_at IS NULL;
DROP INDEX redemptions_live_by_group;
