"""Building and running a process: the parts every ``create_app`` shares."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar, cast

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Middleware
from redis.asyncio import Redis

from coupon_core.health import add_operational_routes
from coupon_core.http import MAX_BODY_BYTES
from coupon_core.keys import CORE_SETTINGS, METRICS, MIGRATIONS
from coupon_core.lifecycle import open_postgres_pool, postgres_ctx, redis_ctx, redis_for
from coupon_core.listener import BoundedAppRunner
from coupon_core.logging import JsonAccessLogger, configure_logging
from coupon_core.looplag import loop_lag_ctx
from coupon_core.metrics import Metrics
from coupon_core.middleware import (
    error_middleware,
    identity_middleware,
    metrics_middleware,
    nonce_book_ctx,
    query_text_middleware,
    request_id_middleware,
)
from coupon_core.migrations import MigrationSet, migrate
from coupon_core.openapi import add_document_route
from coupon_core.settings import ServiceSettings, load_settings

log = logging.getLogger(__name__)

# Connections the kernel queues until the event loop accepts them (capped by
# net.core.somaxconn, 4096 by default). aiohttp's default, 128, drops the connection attempts
# of a burst beyond it: the client retries a second later, which the gateway's 1 s upstream
# connect timeout turns into a 504.
LISTEN_BACKLOG = 4096

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def build_app(
    settings: ServiceSettings,
    *,
    service: str,
    migrations_dir: Path | None,
    verify_identity: bool = True,
    with_redis: bool = True,
    extra_middlewares: Sequence[Middleware] = (),
    serve_document: bool = True,
    reset_marked_only: bool = False,
) -> web.Application:
    """A bare application with the shared middlewares, operational routes and data stores.
    ``serve_document=False`` leaves ``/openapi.json`` to the caller (the gateway merges);
    ``reset_marked_only`` is passed to :func:`coupon_core.lifecycle.postgres_ctx`."""
    middlewares: list[Middleware] = [
        request_id_middleware,
        metrics_middleware,
        error_middleware,
    ]
    if verify_identity:
        middlewares.append(identity_middleware)
    middlewares.extend(extra_middlewares)
    middlewares.append(query_text_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[CORE_SETTINGS] = settings
    app[METRICS] = Metrics(service)
    if migrations_dir is not None:
        app[MIGRATIONS] = MigrationSet.load(service, migrations_dir)
    add_operational_routes(app)
    app.cleanup_ctx.append(loop_lag_ctx)
    if serve_document:
        add_document_route(app, title=service)
    app.cleanup_ctx.append(
        postgres_ctx(migrations_dir, service=service, reset_marked_only=reset_marked_only)
    )
    if with_redis:
        app.cleanup_ctx.append(redis_ctx)
    if verify_identity:
        if not with_redis:
            raise ValueError("verify_identity needs Redis: accepted identities' nonces live there")
        app.cleanup_ctx.append(nonce_book_ctx)
    return app


Reconcile = Callable[[asyncpg.Pool, Redis], Awaitable[int]]


def main(
    service: str,
    settings_class: type[SettingsT],
    create_app: Callable[[SettingsT], web.Application],
    migrations_dir: Path | None,
    *,
    reconcile: Reconcile | None = None,
) -> None:
    """Command line of a process (its ``__main__``), with ``settings_class`` read from the
    environment: ``serve`` (default), ``migrate``, and ``reconcile`` when the process has
    counters to reconcile (:func:`reconcile_command`)."""
    commands = {"serve", "migrate", *(["reconcile"] if reconcile is not None else [])}
    parser = argparse.ArgumentParser(prog=f"python -m {service.replace('-', '_')}")
    parser.add_argument("command", nargs="?", default="serve", choices=sorted(commands))
    args = parser.parse_args()
    settings = load_settings(settings_class)
    configure_logging(service, settings.log_level)
    if args.command == "migrate":
        if migrations_dir is not None:
            applied = asyncio.run(migrate(settings.database_url, migrations_dir, service=service))
            log.info("migrations applied: %s", applied or "none pending")
        return
    if args.command == "reconcile" and reconcile is not None:
        reconcile_command(reconcile)(settings)
        return
    with asyncio.Runner(loop_factory=new_event_loop) as loop:
        loop.run(serve(create_app(settings), settings))


def app_runner(app: web.Application, settings: ServiceSettings) -> BoundedAppRunner:
    """The runner of ``app`` as every process serves it: header and body reading bounded by
    ``HEADER_TIMEOUT_S`` and ``BODY_TIMEOUT_S`` (:mod:`coupon_core.listener`), JSON access
    logs, in-flight requests drained for up to ``SHUTDOWN_TIMEOUT_S`` when it stops."""
    return BoundedAppRunner(
        app,
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        shutdown_timeout=settings.shutdown_timeout_s,
        access_log_class=JsonAccessLogger,
        access_log=logging.getLogger("access") if settings.access_log else None,
    )


async def serve(app: web.Application, settings: ServiceSettings) -> None:
    """What ``web.run_app`` does, through :func:`app_runner` (``run_app`` cannot be given
    another protocol): listen on ``HOST``:``PORT`` until SIGTERM or SIGINT, then stop
    accepting, finish the requests in flight and run the cleanup contexts."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = app_runner(app, settings)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            settings.host,
            settings.port,
            reuse_port=settings.reuse_port,
            backlog=LISTEN_BACKLOG,
        )
        await site.start()
        settle_gc(settings)
        log.info("listening on http://%s:%s", settings.host, settings.port)
        await stop.wait()
    finally:
        await runner.cleanup()


def settle_gc(settings: ServiceSettings) -> None:
    """Once started (``GC_FREEZE``): collect, then move every object alive to the permanent
    generation. Modules, classes, pools and schemas live as long as the process; left in the
    oldest generation, each full collection walked all of them (50-120 ms of a stopped
    event loop under load, the redeem's tail; bench/tail.py)."""
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()


def reconcile_command(reconcile: Reconcile) -> Callable[[ServiceSettings], None]:
    """``python -m <package> reconcile``: one reconciler round against the configured stores,
    the drift it repaired printed."""

    async def once(settings: ServiceSettings) -> int:
        pool = await open_postgres_pool(settings, min_size=1, max_size=2)
        # A cluster client on a cluster URL.
        redis = cast(Redis, redis_for(settings))
        try:
            return await reconcile(pool, redis)
        finally:
            await redis.aclose()
            await pool.close()

    def command(settings: ServiceSettings) -> None:
        drift = asyncio.run(once(settings))
        log.info("reconcile done: drift repaired %d", drift)
        print(f"drift repaired: {drift}")

    return command


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it roughly doubles what one process serves)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def bundled_dir(package_file: str, name: str) -> Path:
    """The directory ``name`` (``migrations``, ``lua``) a service ships beside its code,
    given the ``__file__`` of a module at its package's root: inside the installed package
    (its wheel force-includes it there), or ``<service>/<name>`` in a source checkout."""
    package_dir = Path(package_file).resolve().parent
    bundled = package_dir / name
    return bundled if bundled.is_dir() else package_dir.parents[1] / name
