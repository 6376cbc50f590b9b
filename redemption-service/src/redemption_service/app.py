"""The redemption-service application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from coupon_core import retention
from coupon_core.events import relay_outbox
from coupon_core.keys import METRICS, PG_POOL, REDIS
from coupon_core.lifecycle import background_task_ctx, every
from coupon_core.scripts import load_scripts
from coupon_core.web import build_app, bundled_dir

from redemption_service import retention_jobs
from redemption_service.api.routes import add_routes
from redemption_service.counters import Counters
from redemption_service.db.group_commit import GroupCommit
from redemption_service.keys import (
    COUNTERS,
    GROUP_COMMIT,
    LEDGER_METRICS,
    RECONCILE_METRICS,
    SETTINGS,
)
from redemption_service.settings import Settings
from redemption_service.usecases.ledger_upkeep import LedgerMetrics
from redemption_service.usecases.rebuild import reconcile_metrics
from redemption_service.usecases.reconcile import Reconciler

SERVICE = "redemption-service"
EVENT_SOURCE = "redemption"
MIGRATIONS_DIR = bundled_dir(__file__, "migrations")
LUA_DIR = bundled_dir(__file__, "lua")

log = logging.getLogger(__name__)


async def counters_ctx(app: web.Application) -> AsyncIterator[None]:
    scripts = load_scripts(app[REDIS], LUA_DIR, timing=app[METRICS].script_duration)
    app[COUNTERS] = Counters(app[REDIS], scripts)
    app[GROUP_COMMIT] = commits = GroupCommit(
        app[PG_POOL],
        concurrency=app[SETTINGS].group_commit_concurrency,
        registry=app[METRICS].registry,
    )
    yield
    await commits.close()


async def _relay(app: web.Application) -> None:
    await relay_outbox(
        app[PG_POOL],
        app[REDIS],
        service=EVENT_SOURCE,
        max_entries=app[SETTINGS].stream_max_entries,
        metrics=app[METRICS],
    )


async def _reconcile(app: web.Application) -> None:
    settings = app[SETTINGS]
    reconciler = Reconciler(
        app[PG_POOL],
        app[COUNTERS],
        app[RECONCILE_METRICS],
        interval_s=settings.reconcile_interval_s,
        full_sweep_h=settings.reconcile_full_sweep_h,
        margin_s=settings.reconcile_margin_s,
    )
    await every(settings.reconcile_interval_s, "reconcile", reconciler.run_pass)


def create_app(settings: Settings) -> web.Application:
    # Session-level locks (reversals) mark their connection: see db/locks.py.
    app = build_app(
        settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR, reset_marked_only=True
    )
    app[SETTINGS] = settings
    app[RECONCILE_METRICS] = reconcile_metrics(app[METRICS].registry)
    app[LEDGER_METRICS] = LedgerMetrics(app[METRICS].registry)
    app.cleanup_ctx.append(counters_ctx)
    if settings.relay_outbox:
        app.cleanup_ctx.append(background_task_ctx("outbox-relay", _relay))
    if settings.reconcile_interval_s > 0:
        app.cleanup_ctx.append(background_task_ctx("reconciler", _reconcile))
    retention.install(app, settings, retention_jobs.jobs, service=SERVICE)
    add_routes(app)
    return app
