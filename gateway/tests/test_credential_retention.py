"""User tokens and staff sessions that are over are removed (SPEC section 9): an expired user
token a day after its expiry, a staff session once older than the absolute session limit
(plus a day), in bounded batches by the gateway's retention pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from coupon_core.keys import PG_POOL
from coupon_dev.gateway_fixtures import StartGateway
from gateway.workers.retention import jobs as retention_jobs

PASSWORD = "a long enough passphrase"


async def _user_tokens(client: Any, count: int) -> None:
    registered = await client.post(
        "/api/v1/users/register", json={"email": "ret@example.com", "password": PASSWORD}
    )
    assert registered.status == 201
    for _ in range(count):
        login = await client.post(
            "/api/v1/users/login", json={"email": "ret@example.com", "password": PASSWORD}
        )
        assert login.status == 200


def _job(client: Any, name: str) -> Any:
    [job] = [job for job in retention_jobs(client.app) if job.name == name]
    return job


async def test_expired_user_tokens_go_a_day_after_expiry(gateways: StartGateway) -> None:
    client = await gateways()
    await _user_tokens(client, 5)
    pool: asyncpg.Pool = client.app[PG_POOL]
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM user_tokens ORDER BY id")]
    old, recent, live = ids[:3], ids[3], ids[4]
    await pool.execute(
        "UPDATE user_tokens SET expires_at = now() - interval '2 days' WHERE id = ANY($1)", old
    )
    await pool.execute(
        "UPDATE user_tokens SET expires_at = now() - interval '1 hour' WHERE id = $1", recent
    )

    job = _job(client, "user_tokens")
    assert await job.lag() >= timedelta(hours=23).total_seconds()
    assert [await job.step(2) for _ in range(3)] == [2, 1, 0]
    left = [r["id"] for r in await pool.fetch("SELECT id FROM user_tokens ORDER BY id")]
    assert left == [recent, live]
    assert await job.lag() == 0


async def test_staff_sessions_go_once_past_the_absolute_limit(gateways: StartGateway) -> None:
    client = await gateways(staff_session_absolute_hours=12)
    pool: asyncpg.Pool = client.app[PG_POOL]
    staff_id = await pool.fetchval(
        "INSERT INTO staff (email, name, role, password_hash) "
        "VALUES ('s@example.com', 'S', 'support', 'x') RETURNING id"
    )
    for n, age in enumerate(("40 hours", "37 hours", "35 hours", "1 hour")):
        await pool.execute(
            "INSERT INTO staff_sessions (staff_id, token_hash, created_at, last_seen_at) "
            f"VALUES ($1, $2, now() - interval '{age}', now() - interval '{age}')",
            staff_id,
            f"hash-{n}",
        )

    job = _job(client, "staff_sessions")
    assert await job.lag() > 0
    assert [await job.step(1) for _ in range(3)] == [1, 1, 0]
    left = await pool.fetch("SELECT token_hash FROM staff_sessions ORDER BY token_hash")
    assert [r["token_hash"] for r in left] == ["hash-2", "hash-3"]
