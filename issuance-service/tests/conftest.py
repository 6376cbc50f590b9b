"""Fixtures and helpers shared by the issuance tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from issuance_service.app import create_app
from issuance_service.settings import Settings

FUTURE = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0)


def series_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "Festival coupon",
        "discountCode": "erg123",
        "discountType": "ABS",
        "discountValue": 500,
        "detailedInfo": "Evil coupon",
        "validTillDate": FUTURE.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    body.update(overrides)
    return body


@pytest.fixture
async def api(service_env: dict[str, Any], through_gateway: Any) -> TestClient[Any, Any]:
    """A client of the gateway in front of one issuance-service (``service_env`` first, so
    that the service stops before its database is dropped)."""
    client: TestClient[Any, Any] = await through_gateway(create_app(Settings(**service_env)))
    return client


@pytest.fixture
def replica_settings(service_env: dict[str, Any]) -> Settings:
    """A replica for request storms: every request is signed when the storm starts, and on a
    busy machine the last ones may reach the service after the default 30 s signature age."""
    return Settings(**service_env, identity_max_age_s=600)


@pytest.fixture
def new_series() -> Callable[..., dict[str, Any]]:
    """Body of a valid series (valid for a year), with overrides."""
    return series_body
