"""The redemption-service application factory."""

from __future__ import annotations

from aiohttp import web
from coupon_core.web import build_app, service_migrations_dir

from redemption_service.keys import SETTINGS
from redemption_service.settings import Settings

SERVICE = "redemption-service"
MIGRATIONS_DIR = service_migrations_dir(__file__)


def create_app(settings: Settings) -> web.Application:
    app = build_app(settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR)
    app[SETTINGS] = settings
    return app
