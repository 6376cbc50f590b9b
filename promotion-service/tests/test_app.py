"""The promotion service runs its real lifecycle against real PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

from coupon_core.identity import Principal
from coupon_dev.testing.plugin import signed_as
from promotion_service.app import create_app
from promotion_service.settings import Settings

SIGNED = (signed_as(Principal("api_token", "1", "t")),)


async def test_ready_and_requires_gateway_identity(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    client = await aiohttp_client(create_app(Settings(**service_env)))
    ready = await client.get("/readyz")
    assert ready.status == 200
    body = await ready.json()
    assert (body["checks"], body["stores"]) == (
        {"migrations": "ok"},
        {"postgres": "ok", "redis": "ok"},
    )
    unsigned = await client.get("/api/v1/promotions/")
    assert unsigned.status == 401
    assert (await unsigned.json())["error"] == "access_denied"
    signed = await client.get("/api/v1/promotions/NOPE", middlewares=SIGNED)
    assert signed.status == 404


async def test_nul_in_a_path_parameter_is_400_not_a_database_error(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    """The gateway refuses such paths; the service does too, whoever signed the request."""
    client = await aiohttp_client(create_app(Settings(**service_env)))
    for path in ("/api/v1/promotions/A%00B", "/api/v1/promotions/P/coupons/A%00B"):
        response = await client.get(path, middlewares=SIGNED)
        assert response.status == 400, path
        body = await response.json()
        assert body == {"code": 400, "message": body["message"]}
        assert "control character" in body["message"]
