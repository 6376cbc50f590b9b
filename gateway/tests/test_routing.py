"""Which service a path goes to: the longest matching prefix of SPEC section 1's table."""

from __future__ import annotations

import pytest
from coupon_core.routes import ISSUANCE, PLATFORM, PROMOTION, REDEMPTION, WEBHOOK


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/promotions", PROMOTION),
        ("/api/v1/promotions/7/generate", PROMOTION),
        ("/api/v1/promotionsx", None),
        ("/v2/coupon/issue", ISSUANCE),
        ("/v2/coupon/issue/multiple", ISSUANCE),
        ("/v2/coupon/series/12", ISSUANCE),
        ("/v2/customers", ISSUANCE),
        ("/v2/customers/1", ISSUANCE),
        ("/v1.1/coupon/redeem", REDEMPTION),
        ("/v1.1/coupon/", REDEMPTION),
        ("/v1.1/coupon", None),
        ("/v2/coupon/is_redeemable", REDEMPTION),
        ("/v2/coupon/is_redeemable/", REDEMPTION),
        ("/v2/coupon/is_redeemable/x", None),
        ("/v2/coupon/redemptions/5", REDEMPTION),
        ("/api/v1/coupon/activate", REDEMPTION),
        ("/api/v1/users/subscriptions", REDEMPTION),
        ("/api/v1/users/subscriptions/", REDEMPTION),
        ("/api/v1/users/subscriptions/1", None),
        ("/api/v1/users/login", None),
        ("/api/v1/webhooks", WEBHOOK),
        ("/api/v1/webhooks/7/attempts", WEBHOOK),
        ("/api/v1/webhooksx", None),
        ("/v2/coupon", None),
        ("/", None),
        ("", None),
    ],
)
def test_upstream_for(path: str, expected: str | None) -> None:
    assert PLATFORM.upstream_for(path) == expected


@pytest.mark.parametrize(
    "path",
    ["/v2/coupon/is_redeemable\n", "/api/v1/coupon/activate\n", "/v2/customers\n"],
)
def test_a_decoded_newline_ends_no_route(path: str) -> None:
    """A percent-encoded newline (%0A) decodes into the path: an exact route or a prefix's
    end does not match before it."""
    assert PLATFORM.upstream_for(path) is None
