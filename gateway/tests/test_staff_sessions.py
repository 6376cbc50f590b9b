"""Staff sessions (SPEC section 11): sign-in gives a ``gst_`` bearer that reaches exactly its
role's whitelist through the gateway; idle and absolute expiry; sign-out; throttled sign-in;
staff sessions and user tokens each stay on their own side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from coupon_core.errors import TooManyRequests, Unauthorized
from coupon_core.keys import PG_POOL
from coupon_dev.gateway_fixtures import (
    TEST_PASSWORD,
    StartGateway,
    bearer,
    register_and_login,
)
from coupon_dev.testing.poll import until
from gateway.db import staff as staff_db
from gateway.domain.roles import RoleName
from gateway.domain.secrets import TokenHasher
from gateway.keys import PASSWORDS
from gateway.sessions import SignedIn, sign_in, sign_out
from gateway.settings import DEVELOPMENT_TOKEN_HASH_KEY, Settings
from pydantic import ValidationError

ADDRESS = "192.0.2.10"
REVERSE = "/v2/coupon/redemptions/1/reverse"


async def add_staff(
    app: web.Application, email: str, role: RoleName, password: str = TEST_PASSWORD
) -> staff_db.Staff:
    """A staff account written straight to the database (the API has tests of its own)."""
    password_hash = await app[PASSWORDS].hash(password)
    async with app[PG_POOL].acquire() as conn:
        return await staff_db.create(
            conn, email=email, name=None, role=role, password_hash=password_hash
        )


def app_of(client: TestClient[Any, Any]) -> web.Application:
    app: web.Application | None = client.app
    assert app is not None
    return app


async def signed_in(
    client: TestClient[Any, Any], email: str, role: RoleName, *, address: str = ADDRESS
) -> SignedIn:
    await add_staff(app_of(client), email, role)
    return await sign_in(app_of(client), email, TEST_PASSWORD, address, "pytest")


async def test_a_session_reaches_exactly_its_roles_whitelist(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways()
    marketer = await signed_in(client, "Mia@Example.com", "marketer")
    assert marketer.token.startswith("gst_")
    assert marketer.staff.email == "Mia@Example.com"
    assert marketer.staff.last_sign_in_at is not None
    allowed = await client.get("/api/v1/promotions", headers=bearer(marketer.token))
    assert allowed.status == 200
    assert (await allowed.json())["principal"] == {
        "kind": "staff",
        "id": str(marketer.staff.id),
        "name": "Mia@Example.com",
    }
    reverse = await client.post(REVERSE, headers=bearer(marketer.token))
    assert reverse.status == 403
    assert (await reverse.json())["errors"][0]["message"] == (
        f"The role 'marketer' does not allow POST {'/v2/coupon/redemptions/{redemptionId}'}"
        "/reverse."
    )
    tokens = await client.get("/api/v1/api-tokens", headers=bearer(marketer.token))
    assert tokens.status == 403
    assert await tokens.json() == {
        "status": "error",
        "message": "The role 'marketer' does not allow GET /api/v1/api-tokens.",
        "code": "not_whitelisted",
    }

    support = await signed_in(client, "sam@example.com", "support")
    assert (await client.post(REVERSE, headers=bearer(support.token))).status == 200
    create = await client.post("/api/v1/promotions", json={}, headers=bearer(support.token))
    assert create.status == 403
    assert (await create.json())["message"] == (
        "The role 'support' does not allow POST /api/v1/promotions."
    )

    admin = await signed_in(client, "ada@example.com", "admin")
    assert (await client.get("/api/v1/api-tokens", headers=bearer(admin.token))).status == 200

    # Stored only as its keyed hash.
    conn = await asyncpg.connect(service_env["database_url"])
    try:
        hashes = await conn.fetch("SELECT token_hash FROM staff_sessions ORDER BY id")
        dump = await conn.fetchval("SELECT string_agg(s::text, ' ') FROM staff_sessions s")
    finally:
        await conn.close()
    hasher = TokenHasher(DEVELOPMENT_TOKEN_HASH_KEY.encode())
    signed = (marketer, support, admin)
    assert [row["token_hash"] for row in hashes] == [hasher.digest(s.token) for s in signed]
    assert not any(s.token in dump for s in signed)


async def test_wrong_password_unknown_email_and_disabled_account_answer_alike(
    gateways: StartGateway,
) -> None:
    client = await gateways()
    account = await add_staff(app_of(client), "Ann@Example.com", "support")
    disabled = await add_staff(app_of(client), "off@example.com", "support")
    async with app_of(client)[PG_POOL].acquire() as conn:
        await staff_db.update(
            conn,
            disabled.id,
            name=None,
            clear_name=False,
            role=None,
            active=False,
            password_hash=None,
        )
    attempts = [
        ("ann@example.com", "wrong password"),
        ("nobody@example.com", TEST_PASSWORD),
        ("off@example.com", TEST_PASSWORD),
        ("", ""),
        ("ann@example.com", "x" * 5000),
    ]
    for email, password in attempts:
        with pytest.raises(Unauthorized) as refused:
            await sign_in(app_of(client), email, password, ADDRESS, None)
        assert (refused.value.message, refused.value.code) == (
            "Wrong email or password.",
            "invalid_credentials",
        )
    # The email's case does not matter.
    signed = await sign_in(app_of(client), " ANN@example.COM ", TEST_PASSWORD, ADDRESS, None)
    assert signed.staff.id == account.id


async def _set_session(database_url: str, token: str, column: str, ago: timedelta) -> None:
    """Sets a session's ``column`` to ``ago`` before now (the settings have floors)."""
    hashed = TokenHasher(DEVELOPMENT_TOKEN_HASH_KEY.encode()).digest(token)
    assert column in ("last_seen_at", "created_at")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            f"UPDATE staff_sessions SET {column} = now() - $2::interval WHERE token_hash = $1",
            hashed,
            ago,
        )
    finally:
        await conn.close()


async def test_a_session_unused_for_the_idle_time_is_over(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    # No cache: each request asks the database, as one does once its cache entry lapses.
    client = await gateways(staff_session_idle_minutes=30, auth_cache_ttl_s=0)
    session = await signed_in(client, "ida@example.com", "support")
    url = service_env["database_url"]
    # 29 minutes unused: still live, and this use makes it fresh again.
    await _set_session(url, session.token, "last_seen_at", timedelta(minutes=29))
    assert (await client.get("/api/v1/status", headers=bearer(session.token))).status == 200
    await _set_session(url, session.token, "created_at", timedelta(hours=1))
    assert (await client.get("/api/v1/status", headers=bearer(session.token))).status == 200
    await _set_session(url, session.token, "last_seen_at", timedelta(minutes=31))
    refused = await client.get("/api/v1/status", headers=bearer(session.token))
    assert refused.status == 403
    assert (await refused.json())["code"] == "invalid_token"
    # Using it again does not bring it back.
    assert (await client.get("/api/v1/status", headers=bearer(session.token))).status == 403


async def test_a_session_older_than_the_absolute_time_is_over_however_used(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways(staff_session_absolute_hours=12, auth_cache_ttl_s=0)
    session = await signed_in(client, "abe@example.com", "support")
    await _set_session(
        service_env["database_url"], session.token, "created_at", timedelta(hours=11)
    )
    assert (await client.get("/api/v1/status", headers=bearer(session.token))).status == 200
    await _set_session(
        service_env["database_url"], session.token, "created_at", timedelta(hours=12)
    )
    assert (await client.get("/api/v1/status", headers=bearer(session.token))).status == 403


def test_the_expiry_settings_keep_their_floors() -> None:
    for setting in ("staff_session_idle_minutes", "staff_session_absolute_hours"):
        values: dict[str, Any] = {
            f"{name}_upstreams": "http://127.0.0.1:1"
            for name in ("promotion", "issuance", "redemption", "webhook")
        }
        values[setting] = 0
        with pytest.raises(ValidationError):
            Settings(**values)


async def test_sign_out_ends_the_session_on_every_replica_within_the_cache_time(
    gateways: StartGateway,
) -> None:
    first = await gateways()
    second = await gateways()
    session = await signed_in(first, "otto@example.com", "support")
    for client in (first, second):
        assert (await client.get("/api/v1/status", headers=bearer(session.token))).status == 200
    await sign_out(app_of(first), session.token)
    # This replica forgets it at once; the other within AUTH_CACHE_TTL_S (1 s).
    assert (await first.get("/api/v1/status", headers=bearer(session.token))).status == 403

    async def on_second() -> int:
        return (await second.get("/api/v1/status", headers=bearer(session.token))).status

    await until(on_second, "the other replica refusing the session", 5, equals=403)
    # Signing out twice is harmless.
    await sign_out(app_of(first), session.token)


async def test_sign_in_is_throttled_per_account(gateways: StartGateway) -> None:
    client = await gateways(login_failures_per_account_per_minute=3, trusted_proxies="127.0.0.1/32")
    await add_staff(app_of(client), "tim@example.com", "support")
    user = {"email": "tim@example.com", "password": TEST_PASSWORD}
    assert (await client.post("/api/v1/users/register", json=user)).status == 201
    for attempt in range(3):
        with pytest.raises(Unauthorized):
            await sign_in(app_of(client), "tim@example.com", "wrong", f"198.51.100.{attempt}", None)
    with pytest.raises(TooManyRequests):
        await sign_in(app_of(client), "tim@example.com", "wrong", "198.51.100.9", None)
    # An address that failed on the account gets no more tries, even the right password...
    with pytest.raises(TooManyRequests):
        await sign_in(app_of(client), "tim@example.com", TEST_PASSWORD, "198.51.100.1", None)
    # ...while another address still signs in.
    await sign_in(app_of(client), "tim@example.com", TEST_PASSWORD, "203.0.113.5", None)
    # A user with the same email is another account, not throttled by the staff one's
    # failures, even from an address that failed there.
    login = await client.post(
        "/api/v1/users/login", json=user, headers={"X-Forwarded-For": "198.51.100.1"}
    )
    assert login.status == 200


async def test_sign_in_is_throttled_per_address(gateways: StartGateway) -> None:
    client = await gateways(auth_failures_per_minute=3)
    for attempt in range(3):
        with pytest.raises(Unauthorized):
            await sign_in(app_of(client), f"guess{attempt}@example.com", "wrong", ADDRESS, None)
    with pytest.raises(TooManyRequests) as throttled:
        await sign_in(app_of(client), "guess9@example.com", "wrong", ADDRESS, None)
    assert int(throttled.value.headers["Retry-After"]) >= 1


async def test_a_session_is_served_from_an_address_over_its_failure_budget(
    gateways: StartGateway,
) -> None:
    client = await gateways(auth_failures_per_minute=2)
    session = await signed_in(client, "val@example.com", "support")
    forged = session.token[:-4] + ("AAAA" if not session.token.endswith("AAAA") else "BBBB")
    statuses = [
        (await client.get("/api/v1/status", headers=bearer(forged))).status for _ in range(3)
    ]
    assert statuses == [403, 403, 429]
    assert (await client.get("/api/v1/status", headers=bearer(session.token))).status == 200


async def test_sessions_and_user_tokens_each_stay_on_their_side(gateways: StartGateway) -> None:
    client = await gateways()
    session = await signed_in(client, "una@example.com", "admin")
    for method, path in (("GET", "/api/v1/users/me"), ("POST", "/api/v1/coupon/activate")):
        refused = await client.request(method, path, headers=bearer(session.token))
        assert refused.status == 403
        assert (await refused.json())["code"] == "cannot_authorize_user"
    user = await register_and_login(client, "una@example.com")
    for method, path in (
        ("GET", "/api/v1/staff"),
        ("GET", "/api/v1/staff-roles"),
        ("GET", "/api/v1/promotions"),
    ):
        refused = await client.request(method, path, headers=bearer(user))
        assert refused.status == 403
        assert (await refused.json())["message"] == (
            "A user token reaches only the user endpoints; use an API token."
        )
