"""Lifecycle contexts: one ``cleanup_ctx`` generator per resource, one ``yield`` each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
from aiohttp import web
from redis.asyncio import Redis

from coupon_core.keys import CORE_SETTINGS, HTTP_SESSION, PG_POOL, REDIS
from coupon_core.migrations import apply_migrations

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


def postgres_ctx(migrations_dir: Path | None, *, service: str) -> CleanupCtx:
    """Applies the service's migrations (when enabled), then opens the pool."""

    async def postgres(app: web.Application) -> AsyncIterator[None]:
        settings = app[CORE_SETTINGS]
        if migrations_dir is not None and settings.apply_migrations:
            conn = await asyncpg.connect(settings.database_url)
            try:
                await apply_migrations(conn, migrations_dir, service=service)
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            init=_init_connection,
        )
        app[PG_POOL] = pool
        yield
        await pool.close()

    return postgres


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[CORE_SETTINGS]
    client: Redis = Redis.from_url(
        settings.redis_url, socket_connect_timeout=2, health_check_interval=30
    )
    app[REDIS] = client
    yield
    await client.aclose()


async def http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=30)
    session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    app[HTTP_SESSION] = session
    yield
    await session.close()


def background_task_ctx(
    name: str, factory: Callable[[web.Application], Coroutine[Any, Any, None]]
) -> CleanupCtx:
    """Runs ``factory(app)`` for the app's lifetime; cancelled and awaited on the way out."""

    async def task_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(factory(app), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return task_ctx
