"""coupon_core: the library every process of the coupon platform is built on."""
