"""The issuance-service application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import METRICS, REDIS
from coupon_core.lifecycle import background_task_ctx
from coupon_core.scripts import load_scripts
from coupon_core.web import build_app, bundled_dir

from issuance_service.api.routes import add_routes
from issuance_service.keys import RECONCILE_METRICS, SCRIPTS, SETTINGS
from issuance_service.settings import Settings
from issuance_service.usecases.reconcile import reconcile_metrics
from issuance_service.workers.events import consume_redemptions, relay
from issuance_service.workers.facts import republish_when_lost
from issuance_service.workers.reconciler import reconcile_periodically
from issuance_service.workers.retention import jobs as retention_jobs
from issuance_service.workers.tally import tally_periodically

SERVICE = "issuance-service"
MIGRATIONS_DIR = bundled_dir(__file__, "migrations")
LUA_DIR = bundled_dir(__file__, "lua")


async def scripts_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SCRIPTS] = load_scripts(app[REDIS], LUA_DIR, timing=app[METRICS].script_duration)
    yield


def create_app(settings: Settings) -> web.Application:
    # No session state is ever set on the pool's connections (the issue's advisory lock is
    # transaction-level), so a released connection needs no reset query.
    app = build_app(
        settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR, reset_marked_only=True
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(scripts_ctx)
    app.cleanup_ctx.append(background_task_ctx("outbox-relay", relay))
    app.cleanup_ctx.append(background_task_ctx("redemption-events", consume_redemptions))
    app.cleanup_ctx.append(background_task_ctx("facts-republisher", republish_when_lost))
    app[RECONCILE_METRICS] = reconcile_metrics(app[METRICS].registry)
    if settings.reconcile_interval_s > 0:
        app.cleanup_ctx.append(background_task_ctx("reconciler", reconcile_periodically))
    if settings.issue_tally_interval_s > 0:
        app.cleanup_ctx.append(background_task_ctx("issue-tally", tally_periodically))
    retention.install(app, settings, retention_jobs, service=SERVICE)
    add_routes(app)
    return app
