"""The redemption-service application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import METRICS, PG_POOL, REDIS
from coupon_core.lifecycle import background_task_ctx
from coupon_core.scripts import load_scripts
from coupon_core.web import build_app, bundled_dir

from redemption_service.api.routes import add_routes
from redemption_service.db.counters import Counters
from redemption_service.db.group_commit import GroupCommit
from redemption_service.keys import (
    COUNTERS,
    GROUP_COMMIT,
    LEDGER_METRICS,
    RECONCILE_METRICS,
    SETTINGS,
)
from redemption_service.settings import Settings
from redemption_service.usecases.rebuild import reconcile_metrics
from redemption_service.workers.events import relay
from redemption_service.workers.ledger_upkeep import LedgerMetrics
from redemption_service.workers.reconciler import reconcile_periodically
from redemption_service.workers.retention import jobs as retention_jobs
from redemption_service.workers.stats import stats_ctx

SERVICE = "redemption-service"
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


def create_app(settings: Settings) -> web.Application:
    # Session-level locks (reversals) mark their connection: see db/locks.py.
    app = build_app(
        settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR, reset_marked_only=True
    )
    app[SETTINGS] = settings
    app[RECONCILE_METRICS] = reconcile_metrics(app[METRICS].registry)
    app[LEDGER_METRICS] = LedgerMetrics(app[METRICS].registry)
    app.cleanup_ctx.append(counters_ctx)
    app.cleanup_ctx.append(stats_ctx)
    if settings.relay_outbox:
        app.cleanup_ctx.append(background_task_ctx("outbox-relay", relay))
    if settings.reconcile_interval_s > 0:
        app.cleanup_ctx.append(background_task_ctx("reconciler", reconcile_periodically))
    retention.install(app, settings, retention_jobs, service=SERVICE)
    add_routes(app)
    return app
