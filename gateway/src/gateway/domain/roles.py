"""Staff roles (SPEC section 11): each a named whitelist, in the route table's spelling.

A staff session reaches exactly its role's whitelist, through the same authorization as an
API token, so the console never does more than the API allows the same role. The roles are
built in; a test checks every entry against the route table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from gateway.domain.whitelist import WILDCARD

# The names as a type, for the API's schemas (a test checks it names exactly ROLES).
RoleName = Literal["admin", "marketer", "support"]
ADMIN: RoleName = "admin"
MARKETER: RoleName = "marketer"
SUPPORT: RoleName = "support"

_STATUS = "GET /api/v1/status"
_STATS = (
    "GET /api/v1/promotion-stats",
    "GET /v2/coupon/issue/stats",
    "GET /v2/coupon/redemptions/stats",
)
_PROMOTION_COUPONS = "/api/v1/promotions/{promotionCode}/coupons"
_CUSTOMER_READS = (
    "GET /v2/customers/lookup",
    "GET /v2/customers/{id}",
    "GET /v2/customers/{id}/coupons",
)

# Promotions and their coupons, series, issue and customers: what a campaign needs.
_MARKETER = (
    _STATUS,
    "GET /api/v1/promotions",
    "POST /api/v1/promotions",
    "GET /api/v1/promotions/{code}",
    "PUT /api/v1/promotions/{code}",
    "PATCH /api/v1/promotions/{code}",
    "DELETE /api/v1/promotions/{code}",
    f"GET {_PROMOTION_COUPONS}",
    f"POST {_PROMOTION_COUPONS}",
    f"GET {_PROMOTION_COUPONS}/export.csv",
    f"POST {_PROMOTION_COUPONS}/generate",
    f"GET {_PROMOTION_COUPONS}/generate/{{jobId}}",
    f"GET {_PROMOTION_COUPONS}/{{code}}",
    f"PUT {_PROMOTION_COUPONS}/{{code}}",
    f"PATCH {_PROMOTION_COUPONS}/{{code}}",
    f"DELETE {_PROMOTION_COUPONS}/{{code}}",
    "GET /api/v1/promotion-stats",
    "GET /v2/coupon/series",
    "POST /v2/coupon/series",
    "GET /v2/coupon/series/{id}",
    "PUT /v2/coupon/series/{id}",
    "POST /v2/coupon/issue",
    "POST /v2/coupon/issue/multiple",
    "GET /v2/coupon/issue/stats",
    "POST /v2/customers",
    *_CUSTOMER_READS,
    "GET /v2/coupon/redemptions/stats",
)

# Reads for answering a customer, and the one change support makes: reversing a redemption.
_SUPPORT = (
    _STATUS,
    *_STATS,
    "GET /api/v1/promotions",
    "GET /api/v1/promotions/{code}",
    f"GET {_PROMOTION_COUPONS}",
    f"GET {_PROMOTION_COUPONS}/{{code}}",
    "GET /v2/coupon/series",
    "GET /v2/coupon/series/{id}",
    *_CUSTOMER_READS,
    "GET /v2/coupon/is_redeemable",
    "GET /v1.1/coupon/isredeemable",
    "GET /v2/coupon/redemptions",
    "GET /v2/coupon/redemptions/{redemptionId}",
    "POST /v2/coupon/redemptions/{redemptionId}/reverse",
    "GET /api/v1/subscriptions",
)

# Role name -> its whitelist, most powerful first.
ROLES: Mapping[RoleName, tuple[str, ...]] = MappingProxyType(
    {ADMIN: (WILDCARD,), MARKETER: _MARKETER, SUPPORT: _SUPPORT}
)


def whitelist_of(role: str) -> tuple[str, ...]:
    """The whitelist of ``role``; an unknown role (none is stored: the table checks) reaches
    nothing."""
    return next((whitelist for name, whitelist in ROLES.items() if name == role), ())
