"""The gateway application factory."""

from __future__ import annotations

from aiohttp import web
from coupon_core.lifecycle import http_session_ctx
from coupon_core.web import build_app, service_migrations_dir

from gateway.keys import ROUTER, SETTINGS
from gateway.proxy import proxy_handler
from gateway.routing import ISSUANCE, PROMOTION, REDEMPTION, Router
from gateway.settings import Settings

SERVICE = "gateway"
MIGRATIONS_DIR = service_migrations_dir(__file__)


def create_app(settings: Settings) -> web.Application:
    app = build_app(settings, service=SERVICE, migrations_dir=MIGRATIONS_DIR, verify_identity=False)
    app[SETTINGS] = settings
    app[ROUTER] = Router(
        {
            PROMOTION: settings.promotion_upstreams.split(","),
            ISSUANCE: settings.issuance_upstreams.split(","),
            REDEMPTION: settings.redemption_upstreams.split(","),
        }
    )
    app.cleanup_ctx.append(http_session_ctx)
    app.router.add_route("*", "/{tail:.*}", proxy_handler)
    return app
