"""``couponctl demo``: the seeds' own examples, loaded through the gateway's public API.

Idempotent: each object is looked up first and created only when missing, so a second run
changes nothing. ``make run`` calls it once every process is ready and prints its output:
the demo token and three curl commands that work as printed.

- promotion ``HOLIDAY-SALE`` (coupon based, ``order_fixed_discount``) with coupons ``A3BCB``
  and ``A8BAB`` exactly as in the Sylius seed;
- customer Abijith Guptha (mobile 11223569865, externalId 000003873472) and the series
  "Festival coupon" (``erg123``, ABS 500, "Evil coupon") of the Capillary issue seed;
- promotion ``new-user-promo`` granting the "1 month promo subscription" and its coupon
  ``123456-789ABC-DEFG`` for ``POST /api/v1/coupon/activate`` (CRM seed);
- the console's staff accounts ``admin@example.com``, ``marketer@example.com`` and
  ``support@example.com`` (one per role), password ``demo-password-change-me``.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import dataclass
from typing import Any

from couponctl.client import ApiError, GatewayClient, segment
from couponctl.render import plain
from couponctl.resources import CUSTOMERS, PROMOTIONS, SERIES, Subparsers

HOLIDAY_SALE: dict[str, Any] = {
    "code": "HOLIDAY-SALE",
    "name": "Holiday sale",
    "couponBased": True,
    "actions": [{"type": "order_fixed_discount", "configuration": {"amount": 500}}],
}
HOLIDAY_COUPONS: list[dict[str, Any]] = [
    {"code": "A3BCB"},
    {"code": "A8BAB", "expiresAt": "2020-01-01", "usageLimit": 10, "perCustomerUsageLimit": 1},
]
SUBSCRIPTION_PROMOTION: dict[str, Any] = {
    "code": "new-user-promo",
    "name": "New user promo",
    "couponBased": True,
    "actions": [
        {
            "type": "grant_subscription",
            "configuration": {
                "subscriptionTypeId": 123,
                "subscriptionTypeName": "1 month promo subscription",
                "lengthDays": 31,
            },
        }
    ],
}
ACTIVATION_COUPON: dict[str, Any] = {"code": "123456-789ABC-DEFG", "usageLimit": 1}
CUSTOMER: dict[str, Any] = {
    "firstName": "Abijith",
    "lastName": "Guptha",
    "mobile": "11223569865",
    "externalId": "000003873472",
}
SERIES_BODY: dict[str, Any] = {
    "description": "Festival coupon",
    "discountCode": "erg123",
    "discountType": "ABS",
    "discountValue": 500,
    "discountUpto": 0,
    "discountOn": "BILL",
    "detailedInfo": "Evil coupon",
    "validTillDate": "2030-12-31T00:00:00Z",
}
SERIES_PAGE = 500
STAFF = "/api/v1/staff"
STAFF_PASSWORD = "demo-password-change-me"  # noqa: S105 (the demo's, printed by make run)
# email -> (role, what it may do in the console)
DEMO_STAFF: dict[str, tuple[str, str]] = {
    "admin@example.com": ("admin", "everything"),
    "marketer@example.com": ("marketer", "promotions, coupons, series, issue, customers"),
    "support@example.com": ("support", "look-ups, redemptions and reversals"),
}


@dataclass
class Loaded:
    series_id: int
    customer_id: int
    created: list[str]


def _ensure(client: GatewayClient, path: str, create_at: str, body: dict[str, Any]) -> bool:
    """Creates ``body`` at ``create_at`` unless ``GET path`` finds it; True when created."""
    try:
        client.request("GET", path)
        return False
    except ApiError as exc:
        if exc.status != 404:
            raise
    client.request("POST", create_at, body)
    return True


def _customer(client: GatewayClient) -> tuple[int, bool]:
    try:
        found = client.request("GET", f"{CUSTOMERS}/lookup", query={"mobile": CUSTOMER["mobile"]})
        return int(_customer_of(found)["id"]), False
    except ApiError as exc:
        if exc.status != 404:
            raise
    return int(_customer_of(client.request("POST", CUSTOMERS, CUSTOMER))["id"]), True


def _customer_of(body: Any) -> dict[str, Any]:
    inner = body.get("customer", body) if isinstance(body, dict) else {}
    return inner if isinstance(inner, dict) else {}


def _series(client: GatewayClient) -> tuple[int, bool]:
    after = 0
    while True:
        page = client.request("GET", SERIES, query={"after": after, "limit": SERIES_PAGE})
        listed = page.get("series", []) if isinstance(page, dict) else []
        for series in listed:
            if all(series.get(k) == SERIES_BODY[k] for k in ("description", "discountCode")):
                return int(series["id"]), False
        if len(listed) < SERIES_PAGE:
            break
        after = int(listed[-1]["id"])
    return int(client.request("POST", SERIES, SERIES_BODY)["id"]), True


def _staff(client: GatewayClient, email: str, role: str) -> bool:
    """Creates the demo staff account ``email`` unless it exists; True when created."""
    found = client.request("GET", STAFF, query={"email": email})
    if any(account["email"] == email for account in found["items"]):
        return False
    client.request("POST", STAFF, {"email": email, "role": role, "password": STAFF_PASSWORD})
    return True


def console_lines(url: str) -> list[str]:
    """How to sign in to the console as each demo staff account (printed by make run)."""
    lines = [f"console: {url}/console (password {STAFF_PASSWORD}):"]
    width = max(len(email) for email in DEMO_STAFF)
    lines += [f"  {email:<{width}}  {role}: {may}" for email, (role, may) in DEMO_STAFF.items()]
    return lines


def load(client: GatewayClient) -> Loaded:
    created: list[str] = []
    for promotion, coupons in (
        (HOLIDAY_SALE, HOLIDAY_COUPONS),
        (SUBSCRIPTION_PROMOTION, [ACTIVATION_COUPON]),
    ):
        code = promotion["code"]
        if _ensure(client, f"{PROMOTIONS}/{segment(code)}", PROMOTIONS, promotion):
            created.append(f"promotion {code}")
        base = f"{PROMOTIONS}/{segment(code)}/coupons"
        for coupon in coupons:
            if _ensure(client, f"{base}/{segment(coupon['code'])}", base, coupon):
                created.append(f"coupon {coupon['code']}")
    customer_id, new_customer = _customer(client)
    if new_customer:
        created.append(f"customer {customer_id}")
    series_id, new_series = _series(client)
    if new_series:
        created.append(f"series {series_id}")
    for email, (role, _) in DEMO_STAFF.items():
        if _staff(client, email, role):
            created.append(f"staff {email}")
    return Loaded(series_id=series_id, customer_id=customer_id, created=created)


def _curl(url: str, token: str, method: str, path: str, body: Any = None) -> str:
    parts = ["curl", "-sS"]
    if method != "GET":
        parts += ["-X", method]
    parts += [url + path, "-H", f"Authorization: Bearer {token}"]
    if body is not None:
        parts += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    return shlex.join(parts)


def curl_commands(url: str, token: str, loaded: Loaded) -> list[str]:
    mobile = CUSTOMER["mobile"]
    redeem = {
        "root": {
            "coupon": [
                {
                    "code": "A3BCB",
                    "customer": {"mobile": mobile},
                    "transaction": [{"number": "DEMO-ORDER-1", "amount": 5000}],
                }
            ]
        }
    }
    return [
        _curl(url, token, "GET", f"{PROMOTIONS}/HOLIDAY-SALE/coupons/A3BCB"),
        _curl(
            url,
            token,
            "POST",
            "/v2/coupon/issue",
            {"seriesId": loaded.series_id, "customer": {"mobile": mobile}},
        ),
        _curl(url, token, "POST", "/v1.1/coupon/redeem", redeem),
    ]


def run(client: GatewayClient, args: argparse.Namespace) -> dict[str, Any]:
    loaded = load(client)
    return {
        "created": loaded.created,
        "seriesId": loaded.series_id,
        "customerId": loaded.customer_id,
        "token": client.token,
        "curl": curl_commands(client.url, client.token or "", loaded),
    }


def render(result: dict[str, Any]) -> str:
    created = ", ".join(result["created"]) or "nothing (already there)"
    lines = [f"demo data created: {created}", f"demo token: {result['token']}", "try:"]
    lines += [f"  {command}" for command in result["curl"]]
    return "\n".join(lines)


def add_demo(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "demo", parents=[common], help="load the demo data (idempotent)",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.set_defaults(run=run, render=render)
