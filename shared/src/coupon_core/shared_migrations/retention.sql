-- Retention (coupon_core.retention): each batch finds its rows through a btree on their
-- timestamp, and the lag is one step down the same index. BRIN would be cheaper to write,
-- but these tables are queues: once vacuum frees the pages of deleted rows, new rows
-- reuse them, every block range comes to span old and new timestamps, and a BRIN
-- summary is never narrowed again, so it would end up selecting the whole table.
--
-- The outbox index holds published rows only: it is written when the relay marks a row
-- (already an update of every index: published_at is in outbox_unpublished's predicate),
-- not on the insert a request makes, and an unpublished row is never a candidate.
CREATE INDEX outbox_published_created ON outbox (created_at) WHERE published_at IS NOT NULL;
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
