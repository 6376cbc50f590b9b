-- Customers, coupon series and the coupons issued from them.
CREATE TABLE customers (
    id          bigserial   PRIMARY KEY,
    first_name  text        NOT NULL DEFAULT '',
    last_name   text        NOT NULL DEFAULT '',
    mobile      text        UNIQUE,
    email       text        UNIQUE,
    external_id text        UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (mobile IS NOT NULL OR email IS NOT NULL OR external_id IS NOT NULL)
);

CREATE TABLE series (
    id                                 bigserial        PRIMARY KEY,
    description                        text             NOT NULL,
    discount_code                      text             NOT NULL,
    discount_type                      text             NOT NULL CHECK (discount_type IN ('ABS', 'PERC')),
    discount_value                     double precision NOT NULL,
    discount_upto                      double precision NOT NULL DEFAULT 0,
    discount_on                        text             NOT NULL CHECK (discount_on IN ('BILL', 'ITEM')),
    detailed_info                      text             NOT NULL DEFAULT '',
    valid_till_date                    timestamptz      NOT NULL,
    valid_days_from_creation           integer          NOT NULL DEFAULT -1,
    max_create                         integer          NOT NULL DEFAULT -1,
    max_redeem                         integer          NOT NULL DEFAULT -1,
    redemption_per_coupon_max_limit    integer          NOT NULL DEFAULT 1,
    max_redemptions_in_series_per_user integer          NOT NULL DEFAULT -1,
    same_user_multiple_redeem          boolean          NOT NULL DEFAULT false,
    any_user                           boolean          NOT NULL DEFAULT false,
    max_vouchers_per_user              integer          NOT NULL DEFAULT -1,
    min_days_between_vouchers          integer          NOT NULL DEFAULT -1,
    coupon_prefix                      text             NOT NULL DEFAULT '',
    coupon_suffix                      text             NOT NULL DEFAULT '',
    random_code_length                 integer          NOT NULL DEFAULT 10,
    num_redeemed                       integer          NOT NULL DEFAULT 0,
    created_at                         timestamptz      NOT NULL DEFAULT now(),
    updated_at                         timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE issued_coupons (
    id               bigserial   PRIMARY KEY,
    series_id        bigint      NOT NULL REFERENCES series (id),
    customer_id      bigint      NOT NULL REFERENCES customers (id),
    code             text        NOT NULL UNIQUE,
    valid_till       timestamptz NOT NULL,
    issued_at        timestamptz NOT NULL,
    redemption_count integer     NOT NULL DEFAULT 0
);
CREATE INDEX issued_coupons_series_customer ON issued_coupons (series_id, customer_id, issued_at);
CREATE INDEX issued_coupons_customer ON issued_coupons (customer_id, id);
