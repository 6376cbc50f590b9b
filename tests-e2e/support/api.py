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
