"""Fixtures of the webhook-service tests: the real app, behind the real gateway."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from webhook_service.app import create_app
from webhook_service.settings import Settings


@pytest.fixture
def settings(service_env: dict[str, Any]) -> Settings:
    """The service's settings for a test: deliveries to the tests' loopback receivers are
    allowed (plain http on loopback, and the loopback networks allowlisted)."""
    return Settings(
        **service_env,
        webhook_allow_http_loopback=True,
        webhook_allowed_networks="127.0.0.0/8,::1/128",
        webhook_poll_s=0.05,
        webhook_retry_base_s=0.05,
        webhook_retry_max_delay_s=0.2,
    )


@pytest.fixture
async def api(settings: Settings, through_gateway: Any) -> TestClient[Any, Any]:
    """A client of the gateway in front of one webhook-service."""
    client: TestClient[Any, Any] = await through_gateway(create_app(settings))
    return client
