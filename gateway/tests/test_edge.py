"""Edge decisions per URL family: 401 without credentials, 403 for bad ones, in each envelope."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from coupon_core.identity import IDENTITY_HEADER, Principal, sign_identity
from coupon_dev.gateway_fixtures import (
    ADMIN,
    TEST_ADMIN_TOKEN,
    StartGateway,
    basic,
    bearer,
    create_token,
    echo_app,
    register_and_login,
)
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET

# One endpoint per family, each served by a service behind the gateway.
FAMILIES = [
    ("GET", "/api/v1/promotions"),
    ("GET", "/api/v1/users/subscriptions"),
    ("POST", "/v1.1/coupon/redeem"),
    ("POST", "/v2/coupon/issue"),
]


def assert_envelope(path: str, status: int, body: Any) -> None:
    if path.startswith("/api/v1/promotions"):
        if status == 401:
            assert body["error"] == "access_denied"
            assert body["error_description"]
        else:
            assert body == {"code": status, "message": body["message"]}
    elif path.startswith("/api/v1/"):
        assert body["status"] == "error"
        assert body["message"]
        assert isinstance(body["code"], str)
    elif path.startswith("/v1.1/"):
        status_block = body["response"]["status"]
        assert status_block["success"] == "false"
        assert status_block["code"] == status
    else:
        assert body["errors"][0]["code"] == status
        assert body["warnings"] == []


@pytest.mark.parametrize(("method", "path"), FAMILIES)
async def test_no_credentials_is_401_in_the_family_envelope(
    gateways: StartGateway, method: str, path: str
) -> None:
    client = await gateways()
    for headers in ({}, {"Authorization": ""}, {"Authorization": "   "}):
        response = await client.request(method, path, headers=headers)
        assert response.status == 401
        assert "Bearer" in response.headers["WWW-Authenticate"]
        assert_envelope(path, 401, await response.json())


@pytest.mark.parametrize(("method", "path"), FAMILIES)
async def test_invalid_credentials_are_403_in_the_family_envelope(
    gateways: StartGateway, method: str, path: str
) -> None:
    client = await gateways()
    for headers in (
        bearer("no-such-token"),
        basic("bootstrap-admin", "wrong-secret"),
        basic("nobody", TEST_ADMIN_TOKEN),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Digest whatever"},
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status == 403, headers
        assert_envelope(path, 403, await response.json())


@pytest.mark.parametrize(("method", "path"), FAMILIES)
async def test_not_whitelisted_is_403_and_the_admin_reaches_everything(
    gateways: StartGateway, method: str, path: str
) -> None:
    client = await gateways()
    fresh = await create_token(client, "fresh", [])
    refused = await client.request(method, path, headers=bearer(fresh["token"]))
    assert refused.status == 403
    assert_envelope(path, 403, await refused.json())
    if path == "/api/v1/users/subscriptions":
        return  # a user endpoint: no API token reaches it, tested below
    allowed = await client.request(method, path, headers=ADMIN)
    assert allowed.status == 200
    seen = await allowed.json()
    assert seen["path"] == path
    assert seen["principal"] == {"kind": "api_token", "id": "1", "name": "bootstrap-admin"}


async def test_operational_endpoints_stay_public(gateways: StartGateway) -> None:
    client = await gateways()
    for path in ("/healthz", "/readyz", "/metrics"):
        response = await client.get(path)
        assert response.status == 200, path


async def test_spoofed_identity_header_is_replaced(gateways: StartGateway) -> None:
    client = await gateways()
    forged = sign_identity(
        Principal(kind="user", id="999", name="mallory"),
        method="GET",
        path="/api/v1/promotions",
        query="",
        body=b"",
        secret=TEST_IDENTITY_SECRET.encode(),
    )
    refused = await client.get("/api/v1/promotions", headers={IDENTITY_HEADER: forged})
    assert refused.status == 401
    response = await client.get("/api/v1/promotions", headers={**ADMIN, IDENTITY_HEADER: forged})
    assert response.status == 200
    seen = await response.json()
    assert seen["identityHeaders"] == 1
    assert seen["authorization"] is None
    assert seen["principal"]["kind"] == "api_token"
    assert seen["principal"]["name"] == "bootstrap-admin"


async def test_user_token_reaches_only_user_endpoints(gateways: StartGateway) -> None:
    client = await gateways()
    token = await register_and_login(client, "ann@example.com")
    for method, path in (
        ("GET", "/api/v1/promotions"),
        ("POST", "/v2/coupon/issue"),
        ("POST", "/v1.1/coupon/redeem"),
        ("GET", "/api/v1/api-tokens"),
    ):
        response = await client.request(method, path, headers=bearer(token))
        assert response.status == 403, path
        assert_envelope(path, 403, await response.json())
    activate = await client.post("/api/v1/coupon/activate", headers=bearer(token))
    assert activate.status == 200
    seen = await activate.json()
    assert seen["principal"]["kind"] == "user"
    assert seen["principal"]["name"] == "ann@example.com"
    subscriptions = await client.get("/api/v1/users/subscriptions", headers=bearer(token))
    assert subscriptions.status == 200


async def test_api_token_is_refused_on_user_endpoints(gateways: StartGateway) -> None:
    client = await gateways()
    for method, path in (
        ("POST", "/api/v1/coupon/activate"),
        ("GET", "/api/v1/users/subscriptions"),
        ("GET", "/api/v1/users/me"),
        ("POST", "/api/v1/users/logout"),
    ):
        response = await client.request(method, path, headers=ADMIN)
        assert response.status == 403, path
        body = await response.json()
        assert body["status"] == "error"
        assert body["code"] == "cannot_authorize_user"


async def test_expired_user_token_is_403(gateways: StartGateway, service_env: Any) -> None:
    client = await gateways()
    token = await register_and_login(client, "old@example.com")
    conn = await asyncpg.connect(service_env["database_url"])
    try:
        await conn.execute("UPDATE user_tokens SET expires_at = now() - interval '1 second'")
    finally:
        await conn.close()
    # A fresh replica: nothing cached.
    other = await gateways()
    response = await other.get("/api/v1/users/me", headers=bearer(token))
    assert response.status == 403
    assert (await response.json())["code"] == "token_expired"


async def test_through_gateway_fixture_reaches_a_service(through_gateway: Any) -> None:
    """Other services' tests rely on this: the default client is the bootstrap admin."""
    client = await through_gateway(echo_app())
    for method, path in (("GET", "/api/v1/promotions"), ("POST", "/v2/coupon/issue")):
        response = await client.request(method, path)
        assert response.status == 200
        assert (await response.json())["principal"]["name"] == "bootstrap-admin"
    assert (await client.get("/api/v1/api-tokens")).status == 200
