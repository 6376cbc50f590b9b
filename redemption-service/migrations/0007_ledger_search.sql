-- The ledger search of the console and of support (GET /v2/coupon/redemptions,
-- docs/redemption.md, "Search the ledger"): each filter reads one btree of each attached
-- month, newest first (ORDER BY redeemed_at DESC, id DESC: the index gives redeemed_at's
-- order, an incremental sort puts the rows of one instant in id order), so a page costs a
-- few index probes per month whatever the ledger's size.
--
-- redemptions_by_time also serves the reconciler's "changed since" read, which the BRIN
-- index redemptions_recent served: a btree on an increasing key is written at its
-- right-hand edge, as cheap to keep as the BRIN, and it also gives the order.
-- Transaction numbers are optional: the index holds only the rows that have one.
--
-- Each CREATE INDEX builds the index of every partition, holding off writes to the ledger
-- meanwhile (about 2 s per million rows for the five on the development machine). On a large ledger, build them
-- beforehand with CREATE INDEX CONCURRENTLY on each partition (docs/redemption.md): these
-- statements then adopt those indexes instead of building them.
CREATE INDEX redemptions_by_time ON redemptions (redeemed_at, id);
DROP INDEX redemptions_recent;
CREATE INDEX redemptions_by_code ON redemptions (code, redeemed_at);
CREATE INDEX redemptions_by_customer ON redemptions (customer_id, redeemed_at);
CREATE INDEX redemptions_by_group ON redemptions (group_ref, redeemed_at);
CREATE INDEX redemptions_by_transaction ON redemptions (transaction_number)
    WHERE transaction_number <> '';
