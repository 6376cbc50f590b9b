"""Several gateway replicas sharing PostgreSQL and Redis: revokes, rate limits, throttling,
and the bootstrap token, which every replica ensures at start-up."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient
from coupon_dev.gateway_fixtures import (
    ADMIN,
    TEST_ADMIN_TOKEN,
    TEST_PASSWORD,
    StartGateway,
    basic,
    bearer,
    create_token,
    register_and_login,
)
from coupon_dev.testing.poll import until


async def _status(client: TestClient[Any, Any], path: str, headers: dict[str, str]) -> int:
    return (await client.get(path, headers=headers)).status


async def test_revoke_on_one_replica_stops_the_token_on_another(gateways: StartGateway) -> None:
    first = await gateways()
    second = await gateways()
    # A budget the polling below cannot exhaust.
    token = await create_token(first, "revocable", ["GET /v2/customers/{id}"], rateLimit=1_000_000)
    auth = bearer(token["token"])
    # The second replica has the token in its cache now.
    assert (await second.get("/v2/customers/1", headers=auth)).status == 200
    assert (await second.get("/v2/customers/1", headers=auth)).status == 200
    revoked = await first.delete(f"/api/v1/api-tokens/{token['id']}", headers=ADMIN)
    assert revoked.status == 200
    # The cache TTL is 1 s; the deadline leaves room for a loaded test machine.
    revoked_there = "the other replica refusing the revoked token"
    await until(lambda: _status(second, "/v2/customers/1", auth), revoked_there, 5.0, equals=403)


async def test_rate_limit_is_shared_by_replicas(gateways: StartGateway) -> None:
    first = await gateways()
    second = await gateways()
    token = await create_token(first, "limited", ["GET /v2/customers/{id}"], rateLimit=4)
    auth = bearer(token["token"])
    statuses = []
    for i in range(4):
        client = first if i % 2 == 0 else second
        response = await client.get("/v2/customers/1", headers=auth)
        statuses.append(response.status)
        assert response.headers["RateLimit-Limit"] == "4"
        assert response.headers["RateLimit-Remaining"] == str(3 - i)
    assert statuses == [200, 200, 200, 200]
    for client in (first, second):
        over = await client.get("/v2/customers/1", headers=auth)
        assert over.status == 429
        assert int(over.headers["Retry-After"]) >= 1
        assert over.headers["RateLimit-Limit"] == "4"
        assert over.headers["RateLimit-Remaining"] == "0"
        assert 1 <= int(over.headers["RateLimit-Reset"]) <= 60
        body = await over.json()
        assert body["errors"][0]["code"] == 429
    # Another principal has its own budget; the default comes from the settings.
    other = await first.get("/v2/customers/1", headers=ADMIN)
    assert other.status == 200
    assert other.headers["RateLimit-Limit"] == "6000"


async def test_leased_budget_never_exceeds_the_limit_across_replicas(
    gateways: StartGateway,
) -> None:
    replicas = [await gateways() for _ in range(3)]
    limit = 400  # leases of 4 units
    token = await create_token(replicas[0], "leased", ["GET /v2/customers/{id}"], rateLimit=limit)
    auth = bearer(token["token"])
    admitted = 0
    refused_by = set()
    for i in range(limit + 20):
        replica = i % len(replicas)
        response = await replicas[replica].get("/v2/customers/1", headers=auth)
        if response.status == 200:
            admitted += 1
        else:
            assert response.status == 429
            refused_by.add(replica)
    assert admitted <= limit
    # Units a replica leased and did not use yet: at most 3 per replica.
    assert admitted >= limit - 3 * len(replicas)
    assert refused_by == {0, 1, 2}


async def test_user_and_anonymous_limits_come_from_settings(gateways: StartGateway) -> None:
    client = await gateways(user_rate_limit_per_minute=2, anonymous_rate_limit_per_minute=3)
    token = await register_and_login(client, "rl@example.com")  # two anonymous calls
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status == 200
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status == 200
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status == 429
    body = {"email": "rl@example.com", "password": TEST_PASSWORD}
    assert (await client.post("/api/v1/users/login", json=body)).status == 200
    refused = await client.post("/api/v1/users/login", json=body)
    assert refused.status == 429
    assert (await refused.json())["status"] == "error"


async def test_failed_attempts_from_one_address_are_throttled(gateways: StartGateway) -> None:
    first = await gateways(auth_failures_per_minute=3)
    second = await gateways(auth_failures_per_minute=3)
    path = "/v2/customers/1"
    for guess in ("a", "b", "c"):
        response = await first.get(path, headers=basic("bootstrap-admin", guess))
        assert response.status == 403
    for client in (first, second):
        blocked = await client.get(path, headers=basic("bootstrap-admin", "d"))
        assert blocked.status == 429
        assert int(blocked.headers["Retry-After"]) >= 1
    # The right secret is never refused for it, on the replica that saw the failures and on
    # the other one (test_throttling.py has the details).
    for client in (first, second):
        assert (await client.get(path, headers=ADMIN)).status == 200
    # Failed logins count and are answered the same way.
    login = await second.post(
        "/api/v1/users/login", json={"email": "x@example.com", "password": TEST_PASSWORD}
    )
    assert login.status == 429


async def test_wrong_passwords_are_throttled(gateways: StartGateway) -> None:
    client = await gateways(auth_failures_per_minute=2)
    await register_and_login(client, "eve@example.com")
    bad = {"email": "eve@example.com", "password": "guess-guess"}
    assert (await client.post("/api/v1/users/login", json=bad)).status == 401
    assert (await client.post("/api/v1/users/login", json=bad)).status == 401
    assert (await client.post("/api/v1/users/login", json=bad)).status == 429
    # The right password from the throttled address still logs in.
    good = {"email": "eve@example.com", "password": TEST_PASSWORD}
    assert (await client.post("/api/v1/users/login", json=good)).status == 200


async def _api_tokens(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch("SELECT id, name, whitelist, revoked_at FROM api_tokens")
    finally:
        await conn.close()


async def test_bootstrap_is_idempotent_and_safe_when_replicas_start_at_once(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    clients = await asyncio.gather(*(gateways() for _ in range(3)))
    rows = await _api_tokens(service_env["database_url"])
    assert [(r["name"], list(r["whitelist"]), r["revoked_at"]) for r in rows] == [
        ("bootstrap-admin", ["*"], None)
    ]
    for client in clients:
        assert (await client.get("/api/v1/api-tokens", headers=ADMIN)).status == 200
    # Revoked or narrowed, it is put back as configured by the next start.
    await clients[0].patch(
        f"/api/v1/api-tokens/{rows[0]['id']}", json={"whitelist": []}, headers=ADMIN
    )
    await clients[0].delete(f"/api/v1/api-tokens/{rows[0]['id']}", headers=ADMIN)
    restarted = await gateways()
    again = await _api_tokens(service_env["database_url"])
    assert [(r["id"], list(r["whitelist"]), r["revoked_at"]) for r in again] == [
        (rows[0]["id"], ["*"], None)
    ]
    assert (
        await restarted.get("/v2/customers/1", headers=basic("bootstrap-admin", TEST_ADMIN_TOKEN))
    ).status == 200


async def test_without_bootstrap_setting_no_token_is_created(
    gateways: StartGateway, service_env: dict[str, Any]
) -> None:
    client = await gateways(bootstrap_admin_token=None)
    assert (await client.get("/healthz")).status == 200
    assert await _api_tokens(service_env["database_url"]) == []
