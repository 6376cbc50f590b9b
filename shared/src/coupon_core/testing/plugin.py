"""pytest plugin: real PostgreSQL and Redis for every test, a clean state for each test.

Enabled for the whole workspace by ``-p coupon_core.testing.plugin`` in the pytest options.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from coupon_core.identity import Principal, sign_identity
from coupon_core.testing.provision import Infra, provision

TEST_IDENTITY_SECRET = "test-identity-secret-not-for-production"  # noqa: S105


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provision(os.environ) as found:
        yield found


def database_url_for(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def _finished_databases(infra: Infra) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    if names:
        asyncio.run(_drop(infra.postgres_url, names))


async def _drop(admin_url: str, names: list[str]) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        while names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{names.pop()}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(infra: Infra, _finished_databases: list[str]) -> AsyncIterator[str]:
    """A new, empty database for this test.

    It is dropped when the next test starts, not at this test's teardown: an application
    fixture set up before this one is torn down after it, and its pool must not see its
    database vanish underneath it.
    """
    await _drop(infra.postgres_url, _finished_databases)
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(infra.postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield database_url_for(infra.postgres_url, name)
    _finished_databases.append(name)


@pytest.fixture
async def redis_url(infra: Infra) -> str:
    """The test Redis, emptied before this test."""
    client: Redis = Redis.from_url(infra.redis_url)
    try:
        await client.flushall()
    finally:
        await client.aclose()
    return infra.redis_url


@pytest.fixture
def service_env(database_url: str, redis_url: str) -> dict[str, Any]:
    """Keyword arguments for any service's Settings, pointing at this test's stores."""
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "identity_secret": TEST_IDENTITY_SECRET,
        "environment": "test",
        "access_log": False,
    }


def signed_headers(
    method: str,
    path: str,
    principal: Principal,
    secret: str = TEST_IDENTITY_SECRET,
) -> dict[str, str]:
    """Headers that make a direct call to a service look as if the gateway sent it."""
    from coupon_core.identity import IDENTITY_HEADER

    return {
        IDENTITY_HEADER: sign_identity(principal, method=method, path=path, secret=secret.encode())
    }


@pytest.fixture
def sign() -> Callable[..., dict[str, str]]:
    return signed_headers
