-- The five databases of SPEC section 1, created when dev's PostgreSQL first starts
-- (mounted into /docker-entrypoint-initdb.d by postgres.yaml).
CREATE DATABASE coupon_gateway;
CREATE DATABASE coupon_promotion;
CREATE DATABASE coupon_issuance;
CREATE DATABASE coupon_redemption;
CREATE DATABASE coupon_webhook;
