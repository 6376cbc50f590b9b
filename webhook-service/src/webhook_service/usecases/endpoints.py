"""Subscribe, change, delete an endpoint, and rotate its secret.

A URL is checked (domain.addresses: https, an address that may be reached) before anything
is written, so a refused URL leaves no trace; the check resolves the host, so it runs
outside the transaction.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from coupon_core.errors import NotFound

from webhook_service.db import endpoints as endpoints_db
from webhook_service.db.endpoints import Endpoint
from webhook_service.domain.addresses import check_url
from webhook_service.domain.secrets import new_secret
from webhook_service.settings import Settings


def not_found(endpoint_id: int | str) -> NotFound:
    return NotFound(f"No webhook endpoint with id {endpoint_id}.", code="webhook_not_found")


async def create(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    url: str,
    events: list[str],
    description: str,
    enabled: bool,
) -> Endpoint:
    """The new endpoint, with its secret (the caller shows it this once)."""
    await check_url(url, settings)
    async with pool.acquire() as conn, conn.transaction():
        return await endpoints_db.create(
            conn,
            url=url,
            events=events,
            description=description,
            enabled=enabled,
            secret=new_secret(),
        )


async def get(pool: asyncpg.Pool, endpoint_id: int) -> Endpoint:
    async with pool.acquire() as conn:
        endpoint = await endpoints_db.get(conn, endpoint_id)
    if endpoint is None:
        raise not_found(endpoint_id)
    return endpoint


async def update(
    pool: asyncpg.Pool,
    settings: Settings,
    endpoint_id: int,
    *,
    url: str | None,
    events: list[str] | None,
    description: str | None,
    enabled: bool | None,
) -> Endpoint:
    """Change what is given (None: unchanged). Enabling a disabled endpoint clears its
    failure record; disabling records when."""
    if url is not None:
        await check_url(url, settings)
    async with pool.acquire() as conn, conn.transaction():
        endpoint = await endpoints_db.update(
            conn, endpoint_id, url=url, events=events, description=description, enabled=enabled
        )
    if endpoint is None:
        raise not_found(endpoint_id)
    return endpoint


async def delete(pool: asyncpg.Pool, endpoint_id: int) -> Endpoint:
    """Delete the endpoint with its deliveries and attempt log; what it was."""
    async with pool.acquire() as conn, conn.transaction():
        endpoint = await endpoints_db.delete(conn, endpoint_id)
    if endpoint is None:
        raise not_found(endpoint_id)
    return endpoint


async def rotate_secret(
    pool: asyncpg.Pool, settings: Settings, endpoint_id: int, *, grace_hours: int | None
) -> Endpoint:
    """A new secret signs from now on; the current one stays valid too for ``grace_hours``
    (``WEBHOOK_SECRET_GRACE_H`` when None). The endpoint, with its new secret."""
    grace = settings.secret_grace if grace_hours is None else timedelta(hours=grace_hours)
    async with pool.acquire() as conn, conn.transaction():
        endpoint = await endpoints_db.rotate_secret(
            conn, endpoint_id, secret=new_secret(), grace=grace
        )
    if endpoint is None:
        raise not_found(endpoint_id)
    return endpoint
