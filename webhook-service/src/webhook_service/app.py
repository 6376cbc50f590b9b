"""The webhook-service application factory."""

from __future__ import annotations

import asyncio

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import METRICS
from coupon_core.lifecycle import background_task_ctx
from coupon_core.web import build_app, bundled_dir

from webhook_service.api.routes import add_routes
from webhook_service.keys import DELIVERIES_QUEUED, SETTINGS
from webhook_service.settings import Settings
from webhook_service.workers.delivery import deliver, delivery_gauges
from webhook_service.workers.events import consumers
from webhook_service.workers.retention import jobs as retention_jobs

SERVICE = "webhook-service"
MIGRATIONS_DIR = bundled_dir(__file__, "migrations")


def create_app(settings: Settings) -> web.Application:
    app = build_app(settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR)
    app[SETTINGS] = settings
    app[DELIVERIES_QUEUED] = asyncio.Event()
    app[METRICS].scrape_hooks.append(delivery_gauges)
    add_routes(app)
    app.cleanup_ctx.extend(
        background_task_ctx(name, work) for name, work in (*consumers, ("deliverer", deliver))
    )
    retention.install(app, settings, retention_jobs, service=SERVICE)
    return app
