"""Small helpers for talking to the stack through the gateway in end-to-end tests."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

PROPAGATION_DEADLINE_S = 5.0  # events propagate within a second; polled, never slept


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    expect: int | None = None,
    **kwargs: Any,
) -> tuple[int, Any, dict[str, str]]:
    async with session.request(method, url, **kwargs) as response:
        body = await response.json(content_type=None)
        if expect is not None:
            assert response.status == expect, f"{method} {url}: {response.status} {body}"
        return response.status, body, dict(response.headers)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def mobile() -> str:
    return "9" + str(uuid.uuid4().int)[:11]


def redeem_body(code: str, customer: dict[str, Any], amount: str = "5000", number: str = "") -> Any:
    return {
        "root": {
            "coupon": [
                {
                    "code": code,
                    "customer": customer,
                    "transaction": [{"number": number or unique("T-"), "amount": amount}],
                }
            ]
        }
    }


def item(redeem_response: Any) -> Any:
    coupons = redeem_response["response"]["coupons"]["coupon"]
    return coupons[0] if isinstance(coupons, list) else coupons


PASSWORD = "correct horse battery staple"


async def create_customer(session: aiohttp.ClientSession, gw: str, **fields: Any) -> Any:
    """A customer with ``fields`` (a fresh mobile unless one is given); its body."""
    _, customer, _ = await call(
        session, "POST", f"{gw}/v2/customers", json={"mobile": mobile(), **fields}, expect=201
    )
    return customer


async def _create_promotion(
    session: aiohttp.ClientSession,
    gw: str,
    code: str,
    name: str,
    action: dict[str, Any],
    **fields: Any,
) -> None:
    body = {"code": code, "name": name, "couponBased": True, **fields, "actions": [action]}
    await call(session, "POST", f"{gw}/api/v1/promotions/", json=body, expect=201)


async def create_discount_promotion(
    session: aiohttp.ClientSession, gw: str, code: str, name: str, amount: int, **fields: Any
) -> None:
    """A coupon-based promotion taking ``amount`` off an order (``fields``: e.g. its
    ``usageLimit``)."""
    action = {"type": "order_fixed_discount", "configuration": {"amount": amount}}
    await _create_promotion(session, gw, code, name, action, **fields)


async def create_grant_promotion(session: aiohttp.ClientSession, gw: str, code: str) -> None:
    """The coupon-based "One month free" promotion: activating one of its coupons grants
    subscription type 7 ("1 month") for 30 days."""
    action = {
        "type": "grant_subscription",
        "configuration": {
            "subscriptionTypeId": 7,
            "subscriptionTypeName": "1 month",
            "lengthDays": 30,
        },
    }
    await _create_promotion(session, gw, code, "One month free", action)


async def create_coupon(
    session: aiohttp.ClientSession, gw: str, promotion: str, code: str, **fields: Any
) -> None:
    """The coupon ``code`` of ``promotion`` (``fields``: e.g. its ``usageLimit``)."""
    await call(
        session,
        "POST",
        f"{gw}/api/v1/promotions/{promotion}/coupons/",
        json={"code": code, **fields},
        expect=201,
    )


async def register_and_login(
    session: aiohttp.ClientSession, gw: str, email: str
) -> tuple[Any, Any]:
    """A reader registered with ``email`` and ``PASSWORD``, then logged in: the bodies of
    both answers (the login's ``access.token`` is the reader's bearer token)."""
    credentials = {"email": email, "password": PASSWORD}
    _, registered, _ = await call(
        session, "POST", f"{gw}/api/v1/users/register", json=credentials, expect=201
    )
    _, login, _ = await call(
        session, "POST", f"{gw}/api/v1/users/login", json=credentials, expect=200
    )
    return registered, login
