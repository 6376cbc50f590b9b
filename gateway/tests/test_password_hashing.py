"""Password hashing has a memory ceiling: at most ``PASSWORD_HASH_CONCURRENCY`` Argon2
hashes run at once (each holds its ``memory_cost``, 64 MiB), and a login or registration
that gets no turn within ``PASSWORD_HASH_WAIT_S`` answers 503 with Retry-After in the CRM
envelope."""

from __future__ import annotations

import asyncio

from coupon_dev.gateway_fixtures import TEST_PASSWORD, StartGateway
from gateway.keys import PASSWORDS

LOGINS = 16
USERS = 4


async def test_concurrent_logins_never_run_more_hashes_than_the_setting(
    gateways: StartGateway,
) -> None:
    client = await gateways(
        password_hash_concurrency=2, password_hash_wait_s=60, anonymous_rate_limit_per_minute=1000
    )
    emails = [f"burst{i}@example.com" for i in range(USERS)]
    for email in emails:
        registered = await client.post(
            "/api/v1/users/register", json={"email": email, "password": TEST_PASSWORD}
        )
        assert registered.status == 201, await registered.text()

    async def login(i: int) -> int:
        response = await client.post(
            "/api/v1/users/login", json={"email": emails[i % USERS], "password": TEST_PASSWORD}
        )
        return response.status

    statuses = await asyncio.gather(*(login(i) for i in range(LOGINS)))
    assert statuses == [200] * LOGINS
    passwords = client.app[PASSWORDS]
    # The bound was reached (the logins did overlap) and never exceeded.
    assert passwords.peak == 2
    assert passwords.running == 0


async def test_a_login_without_a_turn_in_time_is_a_503_with_retry_after(
    gateways: StartGateway,
) -> None:
    client = await gateways(password_hash_concurrency=1, password_hash_wait_s=0.2)
    registered = await client.post(
        "/api/v1/users/register", json={"email": "wait@example.com", "password": TEST_PASSWORD}
    )
    assert registered.status == 201
    credentials = {"email": "wait@example.com", "password": TEST_PASSWORD}
    async with client.app[PASSWORDS].turn():  # every turn taken, as by a long hash
        refused = await client.post("/api/v1/users/login", json=credentials)
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "1"
        body = await refused.json()
        assert body["status"] == "error"
        assert body["code"] == "service_unavailable"
        assert "password" in body["message"]
        again = await client.post(
            "/api/v1/users/register", json={"email": "other@example.com", "password": "x" * 12}
        )
        assert again.status == 503
    login = await client.post("/api/v1/users/login", json=credentials)
    assert login.status == 200
