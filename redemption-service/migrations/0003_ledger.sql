-- The redemption ledger: the source of truth the Redis counters are rebuilt from.
-- A live redemption has reversed_at NULL; a reversal sets it (once) with its reason.
CREATE TABLE redemptions (
    id                 bigserial     PRIMARY KEY,
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
);
CREATE INDEX redemptions_live_by_group ON redemptions (group_ref) WHERE reversed_at IS NULL;

-- CRM activations: a coupon activates once, whatever its usage limit.
CREATE TABLE activations (
    id           bigserial   PRIMARY KEY,
    code         text        NOT NULL UNIQUE,
    group_ref    text        NOT NULL,
    user_id      text        NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    id                     bigserial   PRIMARY KEY,
    user_id                text        NOT NULL,
    subscription_type_id   integer     NOT NULL,
    subscription_type_name text        NOT NULL,
    start_time             timestamptz NOT NULL,
    end_time               timestamptz NOT NULL,
    activation_id          bigint      NOT NULL REFERENCES activations (id),
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_by_user ON subscriptions (user_id, subscription_type_id, end_time);
