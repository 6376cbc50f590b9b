-- The ledger as monthly range partitions on redeemed_at (docs/redemption.md, "The ledger at
-- volume"): a month is one table with its own indexes, so a redeem costs the same at any
-- size, and a month past LEDGER_ONLINE_MONTHS can be rolled up and detached whole.
-- Partitions are named redemptions_YYYY_MM and bounded in UTC; the retention job
-- ledger_partitions keeps LEDGER_PARTITIONS_AHEAD months ahead. Rows of a month with no
-- partition land in redemptions_default, which that job empties into the month it creates.
--
-- The existing rows are copied, then the old table is dropped; redemptions_id_seq carries
-- on (the redeem path draws ids from it before it writes), now owned by the new table.
ALTER TABLE redemptions RENAME TO redemptions_unpartitioned;

CREATE TABLE redemptions (
    id                 bigint        NOT NULL DEFAULT nextval('redemptions_id_seq'),
    code               text          NOT NULL,
    group_ref          text          NOT NULL,
    customer_id        text          NOT NULL,
    amount             numeric(16,2) NOT NULL,
    coupon_value       numeric(16,2) NOT NULL,
    transaction_number text          NOT NULL DEFAULT '',
    custom_fields      jsonb         NOT NULL DEFAULT '[]',
    redeemed_at        timestamptz   NOT NULL DEFAULT now(),
    reversed_at        timestamptz,
    reversal_reason    text
) PARTITION BY RANGE (redeemed_at);
ALTER SEQUENCE redemptions_id_seq OWNED BY redemptions.id;

CREATE TABLE redemptions_default PARTITION OF redemptions DEFAULT;

-- Every month that has rows, and the current month with three ahead.
DO $$
DECLARE
    month date;
BEGIN
    FOR month IN
        SELECT DISTINCT date_trunc('month', redeemed_at AT TIME ZONE 'UTC')::date
        FROM redemptions_unpartitioned
        UNION
        SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => n))::date
        FROM generate_series(0, 3) AS n
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF redemptions FOR VALUES FROM (%L) TO (%L)',
            'redemptions_' || to_char(month, 'YYYY_MM'),
            month::text || ' 00:00:00+00',
            (month + interval '1 month')::date::text || ' 00:00:00+00'
        );
    END LOOP;
END
$$;

INSERT INTO redemptions SELECT * FROM redemptions_unpartitioned;
DROP TABLE redemptions_unpartitioned;

-- Built once the rows are in. A lookup by id alone probes each partition's primary key;
-- one that knows redeemed_at (a reversal, once it has read the row) reaches one partition.
ALTER TABLE redemptions ADD PRIMARY KEY (id, redeemed_at);
CREATE INDEX redemptions_live_by_group ON redemptions (group_ref) WHERE reversed_at IS NULL;

-- Archived months, rolled up: live uses per (group, code, customer) that are no longer in
-- an attached partition. A rebuild adds them to the attached live rows.
CREATE TABLE redemption_rollups (
    group_ref   text   NOT NULL,
    code        text   NOT NULL,
    customer_id text   NOT NULL,
    uses        bigint NOT NULL,
    PRIMARY KEY (group_ref, code, customer_id)
);

-- One row per archived month: which table holds it now, and its id range, so that a
-- reversal of one of its redemptions is answered "archived" rather than "not found".
CREATE TABLE redemption_archives (
    month       date        PRIMARY KEY,
    table_name  text        NOT NULL,
    min_id      bigint,
    max_id      bigint,
    live_count  bigint      NOT NULL,  -- live redemptions rolled up
    archived_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX redemption_archives_ids ON redemption_archives (min_id, max_id);
