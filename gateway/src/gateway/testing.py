"""pytest plugin: run any service behind a real in-process gateway.

``through_gateway(app)`` serves ``app`` on a test server, starts a gateway (with its own
database) whose upstreams all point at it, and returns a client of the gateway that sends
the bootstrap admin token by default. Enabled by ``-p gateway.testing``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core.testing.plugin import TEST_IDENTITY_SECRET, database_url_for
from coupon_core.testing.provision import Infra

from gateway.app import create_app
from gateway.settings import Settings

TEST_ADMIN_TOKEN = "test-bootstrap-admin-token-0123456789"  # noqa: S105

ThroughGateway = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def through_gateway(
    aiohttp_server: Any, aiohttp_client: Any, infra: Infra, redis_url: str
) -> AsyncIterator[ThroughGateway]:
    databases: list[str] = []

    async def start(app: web.Application, **gateway_settings: Any) -> TestClient[Any, Any]:
        upstream = await aiohttp_server(app)
        name = f"test_gw_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(infra.postgres_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        databases.append(name)
        url = str(upstream.make_url("")).rstrip("/")
        settings = Settings(
            **{
                "database_url": database_url_for(infra.postgres_url, name),
                "redis_url": redis_url,
                "identity_secret": TEST_IDENTITY_SECRET,
                "environment": "test",
                "access_log": False,
                "promotion_upstreams": url,
                "issuance_upstreams": url,
                "redemption_upstreams": url,
                "bootstrap_admin_token": TEST_ADMIN_TOKEN,
                **gateway_settings,
            }
        )
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(settings), headers={"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
        )
        return client

    yield start
    admin = await asyncpg.connect(infra.postgres_url)
    try:
        for name in databases:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
