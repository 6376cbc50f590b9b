"""Lifecycle contexts: one ``cleanup_ctx`` generator per resource, one ``yield`` each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeAlias, cast

import asyncpg
import orjson
from aiohttp import web
from asyncpg.pool import PoolAcquireContext
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisError

from coupon_core.db import SessionAwareConnection, reset_if_marked
from coupon_core.keys import CORE_SETTINGS, PG_POOL, REDIS
from coupon_core.migrations import apply_migrations
from coupon_core.rediscluster import OutageAwareCluster
from coupon_core.settings import (
    DEFAULT_POOL_TIMEOUT_S,
    DEFAULT_REDIS_POOL_SIZE,
    REDIS_TLS_SCHEMES,
    ServiceSettings,
)

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


class BoundedPool(asyncpg.Pool):
    """An asyncpg pool whose ``acquire()`` waits at most ``acquire_timeout_s`` for a free
    connection when the caller gives no timeout (asyncpg's own default waits for ever), so
    a burst queues for a connection, briefly: one that waited too long gets
    ``asyncio.TimeoutError``, which the error middleware answers with 503 and Retry-After.
    Every ``pool.acquire()`` (and ``pool.fetch()`` and friends, which acquire) is bounded."""

    __slots__ = ("_acquire_timeout_s",)

    def __init__(self, dsn: str, *, acquire_timeout_s: float, **options: Any) -> None:
        super().__init__(dsn, **options)
        self._acquire_timeout_s = acquire_timeout_s

    def acquire(self, *, timeout: float | None = None) -> PoolAcquireContext:
        return super().acquire(timeout=self._acquire_timeout_s if timeout is None else timeout)


async def open_postgres_pool(
    settings: ServiceSettings,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    reset_marked_only: bool = False,
) -> BoundedPool:
    """The one PostgreSQL pool factory: ``DB_POOL_MIN_SIZE``..``DB_POOL_MAX_SIZE``
    connections (unless given), each acquire waiting at most ``POOL_TIMEOUT_S``.

    ``reset_marked_only``: the pool resets a released connection only when it was marked as
    holding session state (:func:`coupon_core.db.mark_session_state`), which saves a round
    trip per use; for services whose every session-level lock or setting marks first."""
    pool = BoundedPool(
        settings.database_url,
        acquire_timeout_s=settings.pool_timeout_s,
        min_size=settings.db_pool_min_size if min_size is None else min_size,
        max_size=settings.db_pool_max_size if max_size is None else max_size,
        # asyncpg.create_pool's defaults for what is not ours to choose.
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        record_class=asyncpg.Record,
        init=_init_connection,
        connection_class=SessionAwareConnection,
        reset=reset_if_marked if reset_marked_only else None,
    )
    await pool
    return pool


def postgres_ctx(
    migrations_dir: Path | None, *, service: str, reset_marked_only: bool = False
) -> CleanupCtx:
    """Applies the service's migrations (when enabled), then opens the pool
    (:func:`open_postgres_pool`)."""

    async def postgres(app: web.Application) -> AsyncIterator[None]:
        settings = app[CORE_SETTINGS]
        if migrations_dir is not None and settings.apply_migrations:
            conn = await asyncpg.connect(settings.database_url)
            try:
                await apply_migrations(conn, migrations_dir, service=service)
            finally:
                await conn.close()
        pool = await open_postgres_pool(settings, reset_marked_only=reset_marked_only)
        app[PG_POOL] = pool
        yield
        await pool.close()

    return postgres


# What :func:`redis_from_url` returns. The ``REDIS`` app key stays typed ``Redis``: both
# clients offer the same single-key and single-slot commands, scripts and pipelines, which
# is all the platform uses (every multi-key operation stays inside one hash tag).
RedisClient: TypeAlias = Redis | RedisCluster

# A Redis Cluster's seed nodes, without TLS and with it; the single-node URL of its first
# seed keeps the matching scheme.
CLUSTER_SCHEMES = {"redis+cluster://": "redis://", "rediss+cluster://": "rediss://"}
_CLUSTER_URL = re.compile(r"^(?:(?P<auth>[^@/?]*)@)?(?P<hosts>[^@/?]+)(?P<tail>[/?].*)?$")


def is_cluster_url(url: str) -> bool:
    return url.startswith(tuple(CLUSTER_SCHEMES))


def cluster_seeds(url: str) -> tuple[str, list[tuple[str, int]]]:
    """Split ``redis+cluster://[user:password@]host:port[,host:port...][/0][?options]``
    (``rediss+cluster://`` with TLS) into a ``redis://`` (``rediss://``) URL of the first
    seed, credentials and options kept, and every seed."""
    scheme = next((s for s in CLUSTER_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        raise ValueError("not a redis+cluster:// or rediss+cluster:// URL")
    match = _CLUSTER_URL.match(url[len(scheme) :])
    if match is None:
        raise ValueError(f"{scheme} URL without a host")
    seeds: list[tuple[str, int]] = []
    for part in match["hosts"].split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            host, port = part.strip(), "6379"
        if not host:
            raise ValueError(f"{scheme} URL with an empty host")
        seeds.append((host.strip("[]"), int(port)))
    auth = f"{match['auth']}@" if match["auth"] is not None else ""
    first_host, first_port = seeds[0]
    first = f"[{first_host}]" if ":" in first_host else first_host
    single = CLUSTER_SCHEMES[scheme]
    return f"{single}{auth}{first}:{first_port}{match['tail'] or ''}", seeds


def redis_from_url(
    url: str,
    *,
    pool_size: int = DEFAULT_REDIS_POOL_SIZE,
    pool_timeout_s: float = DEFAULT_POOL_TIMEOUT_S,
    **options: Any,
) -> RedisClient:
    """The one Redis client factory: ``redis://`` and ``rediss://`` give a
    :class:`~redis.asyncio.Redis`, ``redis+cluster://`` and ``rediss+cluster://`` a
    :class:`~redis.asyncio.cluster.RedisCluster` that knows every seed node (``rediss``:
    TLS, to every node; ``options`` may carry redis-py's ``ssl_*`` options).

    Either way at most ``pool_size`` connections (on a cluster: commands in flight) are in
    use at once, and a command beyond them waits up to ``pool_timeout_s`` for one to be
    free, then fails with a redis ``ConnectionError`` (a 503): redis-py's default pools
    raise ``MaxConnectionsError`` at once instead, failing a burst."""
    if not is_cluster_url(url):
        pool = BlockingConnectionPool.from_url(
            url, max_connections=pool_size, timeout=pool_timeout_s, **options
        )
        return Redis.from_pool(pool)
    single, seeds = cluster_seeds(url)
    nodes = [ClusterNode(host, port) for host, port in seeds]
    return OutageAwareCluster.from_url(
        single,
        startup_nodes=nodes,
        commands_in_flight=pool_size,
        wait_timeout_s=pool_timeout_s,
        **options,
    )


# How long connecting to Redis may take; a refused connection fails at once.
REDIS_CONNECT_TIMEOUT_S = 2.0


def redis_tls_options(settings: ServiceSettings) -> dict[str, Any]:
    """redis-py's TLS options for a ``rediss://`` or ``rediss+cluster://`` URL, from the
    ``REDIS_TLS_*`` settings (none for a URL without TLS: its client takes no ``ssl_*``
    option). Without ``REDIS_TLS_CA_FILE`` the system's certificate authorities are used."""
    if not settings.redis_url.startswith(REDIS_TLS_SCHEMES):
        return {}
    files = {
        "ssl_ca_certs": settings.redis_tls_ca_file,
        "ssl_certfile": settings.redis_tls_cert_file,
        "ssl_keyfile": settings.redis_tls_key_file,
    }
    options: dict[str, Any] = {k: str(path) for k, path in files.items() if path is not None}
    options["ssl_check_hostname"] = settings.redis_tls_check_hostname
    return options


def redis_for(settings: ServiceSettings) -> RedisClient:
    """The client of a process's Redis, pooled as its settings say (``REDIS_POOL_SIZE``,
    ``POOL_TIMEOUT_S``), each reply waited for at most ``REDIS_SOCKET_TIMEOUT_S``, over TLS
    as ``REDIS_TLS_*`` say for a ``rediss`` URL."""
    return redis_from_url(
        settings.redis_url,
        pool_size=settings.redis_pool_size,
        pool_timeout_s=settings.pool_timeout_s,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=settings.redis_socket_timeout_s,
        health_check_interval=30,
        **redis_tls_options(settings),
    )


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    client = redis_for(app[CORE_SETTINGS])
    app[REDIS] = cast(Redis, client)
    yield
    await client.aclose()


BACKGROUND_RESTART_DELAY_S = 0.5
CANCEL_RETRY_S = 0.2


def stopping() -> bool:
    """True when the current task has been asked to stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def check_stopping() -> None:
    """Raise CancelledError when the current task was cancelled, even if a library turned
    the cancellation into another error on its way up (a worker loop that retries on such
    errors would otherwise never stop)."""
    if stopping():
        raise asyncio.CancelledError


async def every(interval_s: float, what: str, run: Callable[[], Awaitable[object]]) -> None:
    """``run()`` every ``interval_s`` seconds, for ever (a reconciler's loop). A round that
    fails on a data store is logged and the next round tries again."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run()
        except (RedisError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("%s failed: %r; retrying next round", what, exc)


def background_task_ctx(
    name: str, factory: Callable[[web.Application], Coroutine[Any, Any, None]]
) -> CleanupCtx:
    """Runs ``factory(app)`` for the app's lifetime; cancelled and awaited on the way out.

    A loop that fails (a store restarted under it, a bug) is logged and started again
    after a short delay: a background task that dies silently stops events, republishing
    or reconciling with nothing to show for it."""

    async def supervise(app: web.Application) -> None:
        while True:
            try:
                await factory(app)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # asyncpg may surface a cancellation landing mid-query as a client error.
                check_stopping()
                log.exception("background task %s failed; restarting", name)
                await asyncio.sleep(BACKGROUND_RESTART_DELAY_S)

    async def task_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(supervise(app), name=name)
        yield
        # A library can swallow a cancellation that lands at the wrong moment (on Python
        # 3.11, asyncio.wait_for does when the awaited operation finishes at the same
        # instant); cancelling again lands at another await and stops the loop.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=CANCEL_RETRY_S)
        with contextlib.suppress(asyncio.CancelledError):
            task.result()

    return task_ctx
