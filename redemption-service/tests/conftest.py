"""Fixtures of the redemption-service tests: the real app, and facts published exactly as the
owning services publish them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from coupon_core import code_registry, customers, facts, redis_keys
from coupon_core.facts import CouponFacts, Discount, GroupFacts
from coupon_core.identity import Principal
from coupon_core.lifecycle import redis_from_url
from coupon_dev.testing.plugin import signed_as
from redemption_service.app import create_app
from redemption_service.settings import Settings
from redis.asyncio import Redis


@pytest.fixture
def settings(service_env: dict[str, Any]) -> Settings:
    return Settings(**service_env, reconcile_interval_s=0)


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = cast(Redis, redis_from_url(redis_url))
    yield client
    await client.aclose()


async def mark_facts_ready(redis: Redis) -> None:
    await redis.set(redis_keys.facts_ready("promotion"), "1")
    await redis.set(redis_keys.facts_ready("issuance"), "1")


async def publish_group(
    redis: Redis,
    group: str,
    codes: list[str],
    *,
    coupon: dict[str, Any] | None = None,
    **group_fields: Any,
) -> GroupFacts:
    """Publish a series (``S:..``) or promotion (``P:..``) with coupons, as its owner would."""
    group_fields.setdefault("discount", Discount(type="ABS", value=100))
    found = GroupFacts(group=group, **group_fields)
    coupons = [
        CouponFacts(code=code, group=group, coupon_id=1000 + i, **(coupon or {}))
        for i, code in enumerate(codes)
    ]
    await facts.publish(redis, found, coupons)
    for code in codes:
        assert await code_registry.reserve(redis, code, group)
    await mark_facts_ready(redis)
    return found


async def publish_customer(
    redis: Redis, customer_id: str, *, mobile: str = "", email: str = "", external_id: str = ""
) -> None:
    identifiers: dict[Any, str] = {"mobile": mobile, "email": email, "externalId": external_id}
    await customers.publish(redis, customer_id, {k: v for k, v in identifiers.items() if v})


def redeem_body(*coupons: dict[str, Any]) -> dict[str, Any]:
    return {"root": {"coupon": list(coupons)}}


def coupon_in(code: str, mobile: str, amount: Any = "5000", **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "customer": {"mobile": mobile},
        "transaction": [{"amount": amount}],
        **extra,
    }


Publish = Callable[..., Awaitable[GroupFacts]]


API_CLIENT = Principal("api_token", "1", "checkout")


@pytest.fixture
async def replicas(aiohttp_server: Any, settings: Settings) -> list[str]:
    """Two replicas of the service sharing one database and one Redis."""
    servers = [await aiohttp_server(create_app(settings)) for _ in range(2)]
    return [str(s.make_url("")).rstrip("/") for s in servers]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def post_signed(
    session: aiohttp.ClientSession,
    base: str,
    path: str,
    body: Any,
    *,
    principal: Principal = API_CLIENT,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """POST as if through the gateway; (status, JSON body)."""
    async with session.post(
        base + path, json=body, headers=headers, middlewares=(signed_as(principal),)
    ) as resp:
        return resp.status, await resp.json()


async def ledger_rows(database_url: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, code, group_ref, customer_id FROM redemptions WHERE reversed_at IS NULL"
        )
        return [dict(r) for r in rows]
    finally:
        await conn.close()
