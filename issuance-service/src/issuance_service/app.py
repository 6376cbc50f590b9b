"""The issuance-service application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from coupon_core import retention
from coupon_core.consumer import consume
from coupon_core.events import relay_outbox
from coupon_core.keys import METRICS, PG_POOL, REDIS
from coupon_core.lifecycle import background_task_ctx, every
from coupon_core.scripts import load_scripts
from coupon_core.web import build_app, bundled_dir

from issuance_service.api.routes import add_routes
from issuance_service.keys import RECONCILE_METRICS, SCRIPTS, SETTINGS
from issuance_service.publishing import republish_when_lost
from issuance_service.reconcile import Reconciler, reconcile_metrics
from issuance_service.redemptions import on_redemption_events
from issuance_service.settings import Settings
from issuance_service.usecases.issue import EVENT_STREAM_SERVICE
from issuance_service.workers.retention import jobs as retention_jobs

SERVICE = "issuance-service"
MIGRATIONS_DIR = bundled_dir(__file__, "migrations")
LUA_DIR = bundled_dir(__file__, "lua")


async def scripts_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SCRIPTS] = load_scripts(app[REDIS], LUA_DIR, timing=app[METRICS].script_duration)
    yield


async def _relay(app: web.Application) -> None:
    await relay_outbox(
        app[PG_POOL],
        app[REDIS],
        service=EVENT_STREAM_SERVICE,
        max_entries=app[SETTINGS].stream_max_entries,
        metrics=app[METRICS],
    )


async def _consume_redemptions(app: web.Application) -> None:
    await consume(
        app[PG_POOL],
        app[REDIS],
        stream_service="redemption",
        consumer="issuance",
        handler=on_redemption_events,
    )


async def _republish(app: web.Application) -> None:
    await republish_when_lost(app[PG_POOL], app[REDIS])


async def _reconcile(app: web.Application) -> None:
    settings = app[SETTINGS]
    reconciler = Reconciler(
        app[PG_POOL],
        app[REDIS],
        app[SCRIPTS],
        app[RECONCILE_METRICS],
        interval_s=settings.reconcile_interval_s,
        full_sweep_h=settings.reconcile_full_sweep_h,
        margin_s=settings.reconcile_margin_s,
    )
    await every(settings.reconcile_interval_s, "reconcile", reconciler.run_pass)


def create_app(settings: Settings) -> web.Application:
    # No session state is ever set on the pool's connections (the issue's advisory lock is
    # transaction-level), so a released connection needs no reset query.
    app = build_app(
        settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR, reset_marked_only=True
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(scripts_ctx)
    app.cleanup_ctx.append(background_task_ctx("outbox-relay", _relay))
    app.cleanup_ctx.append(background_task_ctx("redemption-events", _consume_redemptions))
    app.cleanup_ctx.append(background_task_ctx("facts-republisher", _republish))
    app[RECONCILE_METRICS] = reconcile_metrics(app[METRICS].registry)
    if settings.reconcile_interval_s > 0:
        app.cleanup_ctx.append(background_task_ctx("reconciler", _reconcile))
    retention.install(app, settings, retention_jobs, service=SERVICE)
    add_routes(app)
    return app
