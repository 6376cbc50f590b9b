-- One database per process (SPEC section 1): run once by the postgres image on first start.
CREATE DATABASE coupon_gateway;
CREATE DATABASE coupon_promotion;
CREATE DATABASE coupon_issuance;
CREATE DATABASE coupon_redemption;
CREATE DATABASE coupon_webhook;
