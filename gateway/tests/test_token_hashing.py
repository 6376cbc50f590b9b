"""Token secrets are stored under a keyed hash (TOKEN_HASH_KEY), so a leaked table cannot be
checked offline; rows hashed the old way keep working and are rehashed on first use."""

from __future__ import annotations

import hashlib
import secrets
import shutil
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from coupon_core.migrations import migrate
from coupon_dev.gateway_fixtures import (
    ADMIN,
    TEST_ADMIN_TOKEN,
    StartGateway,
    basic,
    bearer,
    create_token,
    register_and_login,
)
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET
from gateway.app import MIGRATIONS_DIR, SERVICE
from gateway.domain.secrets import API_TOKEN_PREFIX, TokenHasher
from gateway.settings import Settings
from pydantic import ValidationError

OTHER_KEY = "another-token-hash-key-0123456789abcdef"


def unkeyed(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_stored_hashes_need_the_key(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways()
    token = await create_token(client, "keyed", ["*"])
    user_token = await register_and_login(client, "kay@example.com")
    url = service_env["database_url"]
    api_rows = await fetch(url, "SELECT name, secret_hash FROM api_tokens ORDER BY id")
    user_rows = await fetch(url, "SELECT token_hash FROM user_tokens")
    stored = {row["name"]: row["secret_hash"] for row in api_rows}
    for secret, digest in (
        (TEST_ADMIN_TOKEN, stored["bootstrap-admin"]),
        (token["token"], stored["keyed"]),
        (user_token, user_rows[0]["token_hash"]),
    ):
        assert digest != unkeyed(secret)
        assert secret not in digest
    # The same table read with another key recognises none of them.
    other = await gateways(token_hash_key=OTHER_KEY, bootstrap_admin_token=None)
    assert (await other.get("/v2/customers/1", headers=bearer(token["token"]))).status == 403
    assert (await other.get("/v2/customers/1", headers=ADMIN)).status == 403
    assert (await other.get("/api/v1/users/me", headers=bearer(user_token))).status == 403
    same_key = await gateways()
    assert (await same_key.get("/v2/customers/1", headers=bearer(token["token"]))).status == 200
    assert (await same_key.get("/api/v1/users/me", headers=bearer(user_token))).status == 200


async def _previous_release(database_url: str, tmp_path: Path) -> None:
    """The database as the release before keyed hashes left it: its one migration applied."""
    old = tmp_path / "migrations"
    old.mkdir()
    shutil.copy(MIGRATIONS_DIR / "0001_principals.sql", old)
    await migrate(database_url, old, service=SERVICE)


async def test_tokens_hashed_the_old_way_keep_working_and_are_rehashed(
    gateways: StartGateway, service_env: dict[str, Any], tmp_path: Path
) -> None:
    url = service_env["database_url"]
    await _previous_release(url, tmp_path)
    old_api, old_basic = (API_TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in range(2))
    old_user = "cpu_" + secrets.token_urlsafe(32)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO api_tokens (name, secret_hash, whitelist) VALUES "
            "('old', $1, '{\"GET /v2/customers/{id}\"}'), ('old-basic', $2, '{*}')",
            unkeyed(old_api),
            unkeyed(old_basic),
        )
        user_id = await conn.fetchval(
            "INSERT INTO users (email, password_hash) VALUES ('old@example.com', 'x') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO user_tokens (user_id, token_hash, expires_at) "
            "VALUES ($1, $2, now() + interval '1 day')",
            user_id,
            unkeyed(old_user),
        )
    finally:
        await conn.close()
    # Upgrade: the new release migrates the database as it starts. Its first failure budget is
    # spent at once, so this also shows old tokens are never refused from a throttled address.
    client = await gateways(auth_failures_per_minute=1)
    assert (await client.get("/v2/customers/1", headers=bearer("wrong"))).status == 403
    assert (await client.get("/v2/customers/1", headers=bearer("wrong"))).status == 429
    assert (await client.get("/v2/customers/1", headers=bearer(old_api))).status == 200
    basic_old = basic("old-basic", old_basic)
    assert (await client.get("/v2/customers/1", headers=basic_old)).status == 200
    assert (await client.get("/api/v1/users/me", headers=bearer(old_user))).status == 200
    # Their first use rewrote the unkeyed hashes.
    old_digests = [unkeyed(old_api), unkeyed(old_basic), unkeyed(old_user)]
    leftover = await fetch(
        url,
        "SELECT secret_hash FROM api_tokens WHERE secret_hash = ANY($1) "
        "UNION ALL SELECT token_hash FROM user_tokens WHERE token_hash = ANY($1)",
        old_digests,
    )
    assert leftover == []
    # Rehashed, they still work (a fresh replica: nothing cached), and logout revokes.
    fresh = await gateways()
    assert (await fresh.get("/v2/customers/1", headers=bearer(old_api))).status == 200
    assert (await fresh.get("/v2/customers/1", headers=basic_old)).status == 200
    assert (await fresh.post("/api/v1/users/logout", headers=bearer(old_user))).status == 200
    later = await gateways()
    assert (await later.get("/api/v1/users/me", headers=bearer(old_user))).status == 403


def test_generated_tokens_carry_a_tag_only_the_key_makes() -> None:
    hasher = TokenHasher(b"k" * 32)
    token = hasher.mint(API_TOKEN_PREFIX)
    assert token.startswith(API_TOKEN_PREFIX)
    assert hasher.minted(token)
    assert not hasher.minted(token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not hasher.minted(API_TOKEN_PREFIX + secrets.token_urlsafe(32))
    assert not hasher.minted(TEST_ADMIN_TOKEN)
    assert not TokenHasher(b"x" * 32).minted(token)
    assert hasher.digest(token) != TokenHasher(b"x" * 32).digest(token)


STORES: dict[str, Any] = {
    "database_url": "postgresql://unused@127.0.0.1:1/unused",
    "redis_url": "redis://127.0.0.1:1/0",
    "identity_secret": TEST_IDENTITY_SECRET,
    "promotion_upstreams": "http://127.0.0.1:1",
    "issuance_upstreams": "http://127.0.0.1:1",
    "redemption_upstreams": "http://127.0.0.1:1",
    "webhook_upstreams": "http://127.0.0.1:1",
}


def test_production_requires_a_token_hash_key() -> None:
    with pytest.raises(ValidationError, match="token_hash_key"):
        Settings(**STORES, environment="production")
    with pytest.raises(ValidationError, match="token_hash_key"):
        Settings(**STORES, environment="production", token_hash_key="too-short")
    configured = Settings(**STORES, environment="production", token_hash_key=OTHER_KEY)
    assert configured.token_key() == OTHER_KEY.encode()
    # Outside production a fixed development key serves, like the other local secrets.
    assert Settings(**STORES, environment="test").token_key()
