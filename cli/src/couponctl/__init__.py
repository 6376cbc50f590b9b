"""couponctl: administer the coupon platform through its gateway."""
