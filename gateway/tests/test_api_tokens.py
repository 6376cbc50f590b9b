"""``/api/v1/api-tokens``: create, list, show, edit the whitelist, revoke; Bearer and Basic."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from coupon_core.openapi import build_document, undocumented_routes
from coupon_dev.gateway_fixtures import (
    ADMIN,
    TEST_ADMIN_TOKEN,
    StartGateway,
    basic,
    bearer,
    create_token,
)
from gateway.domain.secrets import TokenHasher
from gateway.settings import DEVELOPMENT_TOKEN_HASH_KEY


async def test_create_shows_the_secret_once_and_stores_only_its_hash(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways()
    created = await create_token(client, "checkout", ["POST /v2/coupon/issue"], rateLimit=50)
    assert set(created) == {
        "id",
        "name",
        "whitelist",
        "rateLimit",
        "createdAt",
        "revokedAt",
        "token",
    }
    assert created["name"] == "checkout"
    assert created["whitelist"] == ["POST /v2/coupon/issue"]
    assert created["rateLimit"] == 50
    assert created["revokedAt"] is None
    secret = created["token"]
    assert len(secret) >= 40
    shown = await (await client.get(f"/api/v1/api-tokens/{created['id']}", headers=ADMIN)).json()
    assert "token" not in shown
    assert shown == {k: v for k, v in created.items() if k != "token"}
    listed = await (await client.get("/api/v1/api-tokens", headers=ADMIN)).json()
    assert [t["name"] for t in listed["items"]] == ["bootstrap-admin", "checkout"]
    assert all("token" not in t for t in listed["items"])
    conn = await asyncpg.connect(service_env["database_url"])
    try:
        stored = await conn.fetchval("SELECT secret_hash FROM api_tokens WHERE name = 'checkout'")
        dump = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM api_tokens t")
    finally:
        await conn.close()
    assert stored == TokenHasher(DEVELOPMENT_TOKEN_HASH_KEY.encode()).digest(secret)
    assert secret not in dump


async def test_new_token_reaches_nothing_by_default(gateways: StartGateway) -> None:
    client = await gateways()
    response = await client.post("/api/v1/api-tokens", json={"name": "bare"}, headers=ADMIN)
    assert response.status == 201
    token = await response.json()
    assert token["whitelist"] == []
    assert (await client.post("/v2/coupon/issue", headers=bearer(token["token"]))).status == 403


async def test_bearer_and_basic_authenticate_the_same_token(gateways: StartGateway) -> None:
    client = await gateways()
    token = await create_token(client, "capillary-client", ["POST /v1.1/coupon/redeem"])
    for headers in (bearer(token["token"]), basic("capillary-client", token["token"])):
        response = await client.post("/v1.1/coupon/redeem", headers=headers)
        assert response.status == 200
        principal = (await response.json())["principal"]
        assert principal == {
            "kind": "api_token",
            "id": str(token["id"]),
            "name": "capillary-client",
        }
    # The bootstrap secret works as Basic too, under its name.
    response = await client.get(
        "/v2/customers/1", headers=basic("bootstrap-admin", TEST_ADMIN_TOKEN)
    )
    assert response.status == 200
    # Another token's name with this secret does not.
    other = await create_token(client, "other", ["*"])
    refused = await client.post("/v1.1/coupon/redeem", headers=basic("other", token["token"]))
    assert refused.status == 403
    assert other["id"] != token["id"]


async def test_patch_replaces_the_whitelist(gateways: StartGateway) -> None:
    client = await gateways()
    token = await create_token(client, "evolving", ["POST /v2/coupon/issue"])
    auth = bearer(token["token"])
    url = f"/api/v1/api-tokens/{token['id']}"
    patched = await client.patch(url, json={"whitelist": ["GET /v2/customers/{id}"]}, headers=ADMIN)
    assert patched.status == 200
    body = await patched.json()
    assert body["whitelist"] == ["GET /v2/customers/{id}"]
    assert body["rateLimit"] is None
    limited = await client.patch(url, json={"rateLimit": 7}, headers=ADMIN)
    assert (await limited.json())["whitelist"] == ["GET /v2/customers/{id}"]
    assert (await limited.json())["rateLimit"] == 7
    cleared = await client.patch(url, json={"rateLimit": None}, headers=ADMIN)
    assert (await cleared.json())["rateLimit"] is None
    # A fresh replica sees the new whitelist at once (no cache there yet).
    fresh = await gateways()
    assert (await fresh.get("/v2/customers/5", headers=auth)).status == 200
    assert (await fresh.post("/v2/coupon/issue", headers=auth)).status == 403


async def test_revoke_stops_the_token(gateways: StartGateway) -> None:
    client = await gateways()
    token = await create_token(client, "doomed", ["*"])
    revoked = await client.delete(f"/api/v1/api-tokens/{token['id']}", headers=ADMIN)
    assert revoked.status == 200
    assert (await revoked.json())["revokedAt"] is not None
    again = await client.delete(f"/api/v1/api-tokens/{token['id']}", headers=ADMIN)
    assert (await again.json())["revokedAt"] == (await revoked.json())["revokedAt"]
    fresh = await gateways()
    response = await fresh.get("/v2/customers/1", headers=bearer(token["token"]))
    assert response.status == 403
    assert (
        await fresh.get("/v2/customers/1", headers=basic("doomed", token["token"]))
    ).status == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "whitelist": ["FETCH /v2/coupon/issue"]}, "invalid_whitelist"),
        ({"name": "x", "whitelist": ["POST v2/coupon/issue"]}, "invalid_whitelist"),
        ({"name": "x", "whitelist": ["POST /v2/coupon/{a b}"]}, "invalid_whitelist"),
        ({"name": "x", "whitelist": "*"}, "invalid_input"),
        ({"name": "x", "whitelist": [1]}, "invalid_input"),
        ({"name": ""}, "invalid_input"),
        ({"name": "has:colon"}, "invalid_input"),
        ({"name": "x" * 65}, "invalid_input"),
        ({"name": "x", "rateLimit": 0}, "invalid_input"),
        ({"name": "x", "unknown": 1}, "invalid_input"),
        ({}, "invalid_input"),
        ([], "invalid_input"),
    ],
)
async def test_bad_input_is_400_in_the_crm_envelope(
    gateways: StartGateway, body: Any, code: str
) -> None:
    client = await gateways()
    response = await client.post("/api/v1/api-tokens", json=body, headers=ADMIN)
    assert response.status == 400
    payload = await response.json()
    assert payload["status"] == "error"
    assert payload["code"] == code
    listed = await (await client.get("/api/v1/api-tokens", headers=ADMIN)).json()
    assert listed["total"] == 1


async def test_malformed_json_duplicates_and_unknown_ids(gateways: StartGateway) -> None:
    client = await gateways()
    broken = await client.post(
        "/api/v1/api-tokens",
        data=b"{not json",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert broken.status == 400
    assert (await broken.json())["status"] == "error"
    await create_token(client, "twice", [])
    dup = await client.post("/api/v1/api-tokens", json={"name": "twice"}, headers=ADMIN)
    assert dup.status == 409
    assert (await dup.json())["code"] == "name_taken"
    for path in (
        "/api/v1/api-tokens/999",
        "/api/v1/api-tokens/abc",
        "/api/v1/api-tokens/99999999999999999999",
        "/api/v1/api-tokens/76%C2%B3",  # "76³": str.isdigit() is true, int() refuses it
    ):
        assert (await client.get(path, headers=ADMIN)).status == 404
    missing = await client.patch("/api/v1/api-tokens/999", json={"whitelist": []}, headers=ADMIN)
    assert missing.status == 404
    assert (await client.delete("/api/v1/api-tokens/999", headers=ADMIN)).status == 404
    bad_patch = await client.patch(
        "/api/v1/api-tokens/1", json={"whitelist": ["nope"]}, headers=ADMIN
    )
    assert bad_patch.status == 400


async def test_gateway_endpoints_are_documented(gateways: StartGateway) -> None:
    client = await gateways()
    app = client.app
    assert [r for r in undocumented_routes(app) if "{tail" not in r] == []
    paths = build_document(app, title="gateway")["paths"]
    assert set(paths["/api/v1/api-tokens/{id}"]) == {"get", "patch", "delete"}
    assert paths["/api/v1/users/login"]["post"]["security"] == []
