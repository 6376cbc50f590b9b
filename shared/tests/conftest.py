"""Fixtures of the shared library's tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app

# A service whose migrations create the outbox and processed_events tables.
OUTBOX_MIGRATIONS = Path(__file__).resolve().parents[2] / "promotion-service" / "migrations"

OutboxApp = Callable[[str], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def outbox_app(aiohttp_client: Any, database_url: str) -> OutboxApp:
    """Start a service app (pool, Redis client, outbox tables) on the given Redis URL; the
    app is ``client.app``."""

    async def start(redis_url: str) -> TestClient[web.Request, web.Application]:
        settings = ServiceSettings(
            database_url=database_url,
            redis_url=redis_url,
            identity_secret="test-identity-secret-outbox",
            environment="test",
        )
        app = build_app(settings, service="promotion-service", migrations_dir=OUTBOX_MIGRATIONS)
        client: TestClient[web.Request, web.Application] = await aiohttp_client(app)
        return client

    return start
