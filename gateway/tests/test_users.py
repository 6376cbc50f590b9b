"""Users: register (public), login (JSON or form), me, logout; user tokens expire and revoke."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from coupon_dev.gateway_fixtures import (
    TEST_PASSWORD,
    StartGateway,
    bearer,
    create_token,
    register_and_login,
)


async def test_register_login_me_logout(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways()
    registered = await client.post(
        "/api/v1/users/register",
        json={"email": "Ann@Example.com", "password": TEST_PASSWORD, "firstName": "Ann"},
    )
    assert registered.status == 201
    user = (await registered.json())["user"]
    assert user["email"] == "ann@example.com"
    assert user["firstName"] == "Ann"
    assert "password" not in str(user).lower()
    login = await client.post(
        "/api/v1/users/login", json={"email": "ann@example.com", "password": TEST_PASSWORD}
    )
    assert login.status == 200
    body = await login.json()
    assert body["status"] == "ok"
    assert body["user"]["id"] == user["id"]
    token = body["access"]["token"]
    assert body["access"]["expiresAt"]
    me = await client.get("/api/v1/users/me", headers=bearer(token))
    assert me.status == 200
    assert (await me.json())["user"]["email"] == "ann@example.com"
    conn = await asyncpg.connect(service_env["database_url"])
    try:
        stored = await conn.fetchval("SELECT password_hash FROM users")
    finally:
        await conn.close()
    assert stored.startswith("$argon2")
    logout = await client.post("/api/v1/users/logout", headers=bearer(token))
    assert logout.status == 200
    # Revoked: refused at once on this replica, and on a fresh one.
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status == 403
    other = await gateways()
    assert (await other.get("/api/v1/users/me", headers=bearer(token))).status == 403


async def test_login_accepts_form_encoding(gateways: StartGateway) -> None:
    client = await gateways()
    await register_and_login(client, "form@example.com")
    login = await client.post(
        "/api/v1/users/login", data={"email": "form@example.com", "password": TEST_PASSWORD}
    )
    assert login.status == 200
    assert (await login.json())["access"]["token"].startswith("cpu_")


async def test_login_with_a_malformed_multipart_body_is_400(gateways: StartGateway) -> None:
    client = await gateways()
    body = (
        b'--B\r\nContent-Disposition: form-data; name="\xf3\xbd\x7f"\r\n\r\nC\r\n'
        b'--B\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.c\r\n--B--\r\n'
    )
    login = await client.post(
        "/api/v1/users/login",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=B"},
    )
    assert login.status == 400
    assert (await login.json())["code"] == "invalid_input"


async def test_wrong_password_and_unknown_email_get_the_same_401(gateways: StartGateway) -> None:
    client = await gateways()
    await register_and_login(client, "bob@example.com")
    wrong = await client.post(
        "/api/v1/users/login", json={"email": "bob@example.com", "password": "not-it-at-all"}
    )
    unknown = await client.post(
        "/api/v1/users/login", json={"email": "who@example.com", "password": "not-it-at-all"}
    )
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()
    assert (await wrong.json())["status"] == "error"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": TEST_PASSWORD},
        {"email": "a@example.com", "password": "short"},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": TEST_PASSWORD, "admin": True},
        {"email": "a@example.com", "password": 12345678},
        {"email": "a\u0000b@example.com", "password": TEST_PASSWORD},
        {"email": "a@example.com", "password": TEST_PASSWORD, "firstName": "A\u0000"},
    ],
)
async def test_register_refuses_bad_input(gateways: StartGateway, body: dict[str, Any]) -> None:
    client = await gateways()
    response = await client.post("/api/v1/users/register", json=body)
    assert response.status == 400
    assert (await response.json())["code"] == "invalid_input"


async def test_duplicate_email_and_bad_login_bodies(gateways: StartGateway) -> None:
    client = await gateways()
    await register_and_login(client, "dup@example.com")
    again = await client.post(
        "/api/v1/users/register", json={"email": "DUP@example.com", "password": TEST_PASSWORD}
    )
    assert again.status == 409
    assert (await again.json())["code"] == "user_exists"
    body: object
    for body in (
        {},
        {"email": "dup@example.com"},
        {"password": "x"},
        {"email": "dup\u0000@example.com", "password": "x"},
        [],
    ):
        response = await client.post("/api/v1/users/login", json=body)
        assert response.status == 400
    garbage = await client.post(
        "/api/v1/users/login", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert garbage.status == 400


async def test_an_admin_creates_users(gateways: StartGateway) -> None:
    client = await gateways()
    body = {"email": "staff@example.com", "password": TEST_PASSWORD}
    assert (await client.post("/api/v1/users", json=body)).status == 401
    bare = await create_token(client, "bare", [])
    assert (
        await client.post("/api/v1/users", json=body, headers=bearer(bare["token"]))
    ).status == 403
    hr = await create_token(client, "hr", ["POST /api/v1/users"])
    created = await client.post("/api/v1/users", json=body, headers=bearer(hr["token"]))
    assert created.status == 201
    assert (await created.json())["user"]["email"] == "staff@example.com"
    login = await client.post("/api/v1/users/login", json=body)
    assert login.status == 200
    user_token = (await login.json())["access"]["token"]
    assert (await client.post("/api/v1/users", json=body, headers=bearer(user_token))).status == 403
