"""Fixtures of the promotion-service tests: the real app, behind the real gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
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
