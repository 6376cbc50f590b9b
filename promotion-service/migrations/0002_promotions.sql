-- Promotions, their coupons and bulk generation jobs (SPEC section 3).
CREATE TABLE promotions (
    id           bigserial   PRIMARY KEY,
    code         text        NOT NULL UNIQUE,
    name         text        NOT NULL,
    description  text,
    priority     integer     NOT NULL DEFAULT 0,
    exclusive    boolean     NOT NULL DEFAULT false,
    usage_limit  integer,
    used         integer     NOT NULL DEFAULT 0,
    coupon_based boolean     NOT NULL DEFAULT false,
    starts_at    timestamptz,
    ends_at      timestamptz,
    rules        jsonb       NOT NULL DEFAULT '[]',
    actions      jsonb       NOT NULL DEFAULT '[]',
    channels     jsonb       NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A generation job: its parameters, its lease (which replica runs it, until when) and its
-- progress. ``done`` moves in the same transaction as each batch of coupons it inserts.
CREATE TABLE generation_jobs (
    id                       bigserial   PRIMARY KEY,
    promotion_id             bigint      NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
    state                    text        NOT NULL DEFAULT 'pending'
                                         CHECK (state IN ('pending', 'running', 'done', 'failed')),
    total                    integer     NOT NULL CHECK (total > 0),
    done                     integer     NOT NULL DEFAULT 0,
    code_length              integer     NOT NULL,
    prefix                   text        NOT NULL DEFAULT '',
    suffix                   text        NOT NULL DEFAULT '',
    expires_at               timestamptz,
    usage_limit              integer,
    per_customer_usage_limit integer,
    lease_owner              text,
    lease_until              timestamptz,
    error                    text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generation_jobs_unfinished ON generation_jobs (id) WHERE state IN ('pending', 'running');

CREATE TABLE coupons (
    id                       bigserial   PRIMARY KEY,
    promotion_id             bigint      NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
    code                     text        NOT NULL,
    usage_limit              integer,
    per_customer_usage_limit integer,
    expires_at               timestamptz,
    used                     integer     NOT NULL DEFAULT 0,
    -- The job that generated the coupon. No foreign key: its check would lock the job row
    -- once per copied coupon, the very row each batch updates with its progress.
    job_id                   bigint,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT coupons_code_unique UNIQUE (code)
);
CREATE INDEX coupons_promotion ON coupons (promotion_id, id);
