"""Small helpers for talking to the stack through the gateway in end-to-end tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")
PROPAGATION_DEADLINE_S = 5.0  # events propagate within a second; polled, never slept


async def eventually(
    probe: Callable[[], Awaitable[T]],
    expected: T,
    *,
    deadline_s: float = PROPAGATION_DEADLINE_S,
    what: str = "",
) -> T:
    """Polls ``probe`` until it returns ``expected``; fails with the last value seen."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = await probe()
        if value == expected:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {value!r}, expected {expected!r} within {deadline_s}s")
        await asyncio.sleep(0.02)  # polling with a deadline


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
