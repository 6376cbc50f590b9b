"""The promotion-service application factory."""

from __future__ import annotations

import asyncio

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import METRICS
from coupon_core.lifecycle import background_task_ctx
from coupon_core.web import build_app, bundled_dir

from promotion_service.api.routes import add_routes
from promotion_service.keys import JOBS_QUEUED, SETTINGS
from promotion_service.settings import Settings
from promotion_service.workers.events import consume_redemptions, relay
from promotion_service.workers.facts import republish_when_lost
from promotion_service.workers.jobs import pending_codes, run_jobs
from promotion_service.workers.retention import jobs as retention_jobs

SERVICE = "promotion-service"
MIGRATIONS_DIR = bundled_dir(__file__, "migrations")


def create_app(settings: Settings) -> web.Application:
    app = build_app(settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR)
    app[SETTINGS] = settings
    app[JOBS_QUEUED] = asyncio.Event()
    app[METRICS].scrape_hooks.append(pending_codes)
    add_routes(app)
    app.cleanup_ctx.extend(
        background_task_ctx(name, work)
        for name, work in (
            ("outbox-relay", relay),
            ("redemption-events", consume_redemptions),
            ("facts-republisher", republish_when_lost),
            ("generation-jobs", run_jobs),
        )
    )
    retention.install(app, settings, retention_jobs, service=SERVICE)
    return app
