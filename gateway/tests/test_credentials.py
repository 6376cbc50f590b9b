"""Reading the Authorization header, and the rate-limit script after SCRIPT FLUSH."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from coupon_core.lifecycle import redis_from_url
from coupon_dev.gateway_fixtures import ADMIN, StartGateway
from gateway.domain.credentials import Credential, CredentialError, parse_authorization


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "credential"),
    [
        ("Bearer abc", Credential(secret="abc")),
        ("bearer   abc  ", Credential(secret="abc")),
        (f"Basic {_b64('name:se:cret')}", Credential(secret="se:cret", name="name")),
        (f"BASIC {_b64('n:s')}", Credential(secret="s", name="n")),
    ],
)
def test_good_headers(header: str, credential: Credential) -> None:
    assert parse_authorization(header) == credential


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer   ",
        "Token abc",
        "Basic !!!",
        f"Basic {_b64('no-colon')}",
        f"Basic {_b64(':secret')}",
        f"Basic {_b64('name:')}",
        "Basic " + _b64("name:sec\nret"),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Bearer caf\udce9",
        "Bearer " + "x" * 5000,
    ],
)
def test_bad_headers(header: str) -> None:
    with pytest.raises(CredentialError):
        parse_authorization(header)


async def test_rate_limit_survives_script_flush(gateways: StartGateway, redis_url: str) -> None:
    # Below 200 a lease is one unit: every request goes to Redis.
    client = await gateways(rate_limit_per_minute=50)
    first = await client.get("/v2/customers/1", headers=ADMIN)
    assert first.headers["RateLimit-Remaining"] == "49"
    redis: Any = redis_from_url(redis_url)
    try:
        await redis.script_flush()
    finally:
        await redis.aclose()
    second = await client.get("/v2/customers/1", headers=ADMIN)
    assert second.status == 200
    assert second.headers["RateLimit-Remaining"] == "48"
