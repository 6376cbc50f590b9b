-- Which series and customers were issued coupons since the reconciler's last pass
-- (docs/issuance.md, "Reconciler"): a BRIN index on issued_at, a few pages for the whole
-- table and free to maintain, since coupons are written in time order.
CREATE INDEX issued_coupons_recent ON issued_coupons USING brin (issued_at);
