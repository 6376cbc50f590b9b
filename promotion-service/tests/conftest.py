"""Fixtures of the promotion-service tests: the real app, behind the real gateway."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core import redis_keys
from coupon_core.identity import Principal
from coupon_core.lifecycle import redis_from_url
from coupon_dev.testing.plugin import signed_as
from promotion_service.app import create_app
from promotion_service.settings import Settings
from redis.asyncio import Redis

ADMIN = Principal("api_token", "1", "bootstrap-admin")


@pytest.fixture
def settings(service_env: dict[str, Any]) -> Settings:
    # The seed's dates carry +0100: Paris in winter.
    return Settings(
        **service_env,
        timezone="Europe/Paris",
        facts_check_s=0.05,
        job_poll_s=0.05,
    )


@pytest.fixture
async def api(settings: Settings, through_gateway: Any) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await through_gateway(create_app(settings))
    return client


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = cast(Redis, redis_from_url(redis_url))
    yield client
    await client.aclose()


class Direct:
    """A client of the service itself, signing each request as the gateway would."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self.client.request(method, path, middlewares=(signed_as(ADMIN),), **kwargs)

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
def direct(
    database_url: str, aiohttp_client: Any
) -> Callable[[web.Application], Awaitable[Direct]]:
    async def start(app: web.Application) -> Direct:
        return Direct(await aiohttp_client(app))

    return start


@pytest.fixture
def new_promotion() -> Callable[..., Awaitable[dict[str, Any]]]:
    async def create(client: Any, code: str = "HOLIDAY-SALE", **fields: Any) -> dict[str, Any]:
        body = {"code": code, "name": code.title(), "couponBased": True, **fields}
        response = await client.post("/api/v1/promotions/", json=body)
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created

    return create


Uses = list[tuple[str, str]]  # (event type, coupon code)


@pytest.fixture
def redemption_events(redis: Redis) -> Callable[[str, Uses], Awaitable[None]]:
    """Adds redemption events of a promotion's coupons to the redemption stream at once, each
    as the redemption service's outbox relay writes it."""

    async def add(promotion_code: str, uses: Uses) -> None:
        async with redis.pipeline(transaction=True) as pipe:
            for event_type, code in uses:
                event_id = f"redemption:{uuid.uuid4().int % 10**9}"
                payload = {"code": code, "group": f"P:{promotion_code}", "redemptionId": 1}
                pipe.xadd(
                    redis_keys.event_stream("redemption"),
                    {
                        "id": event_id,
                        "type": event_type,
                        "payload": orjson.dumps(payload),
                        "occurred_at": datetime.now(UTC).isoformat(),
                    },
                )
            await pipe.execute()

    return add
