"""Every route of the promotion-service is described in its OpenAPI document."""

from __future__ import annotations

from typing import Any

from coupon_core.routes import PLATFORM_ROUTES
from coupon_dev.testing.openapi import assert_fully_documented
from promotion_service.app import create_app
from promotion_service.settings import Settings


def test_every_route_is_documented_and_exists(service_env: dict[str, Any]) -> None:
    app = create_app(Settings(**service_env))
    assert_fully_documented(app, {f"{m} {t}" for m, t in PLATFORM_ROUTES})
