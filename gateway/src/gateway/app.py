"""The gateway application factory."""

from __future__ import annotations

from aiohttp import web
from coupon_core import retention
from coupon_core.keys import METRICS
from coupon_core.routes import ISSUANCE, PROMOTION, REDEMPTION, WEBHOOK
from coupon_core.web import build_app, bundled_dir
from prometheus_client import Gauge

from gateway.api.audit import add_audit_routes
from gateway.api.docs import add_docs_routes
from gateway.api.middleware import auth_middleware, rate_limit_headers
from gateway.api.staff import add_staff_routes
from gateway.api.status import add_status_routes
from gateway.api.tokens import add_token_routes
from gateway.api.users import add_user_routes
from gateway.audit import audit_middleware
from gateway.bootstrap import auth_ctx
from gateway.console import add_console_routes
from gateway.domain.passwords import Passwords
from gateway.gatekeeper import Gatekeeper
from gateway.keys import GATEKEEPER, PASSWORDS, PROXY_CONFIG, ROUTER, SETTINGS
from gateway.proxy import proxy_handler
from gateway.proxy_config import ProxyConfig
from gateway.routing import Router
from gateway.settings import Settings
from gateway.targets import target_middleware
from gateway.upstreams import upstream_session_ctx
from gateway.workers.retention import jobs as audit_retention_jobs

SERVICE = "gateway"
MIGRATIONS_DIR = bundled_dir(__file__, "migrations")


def create_app(settings: Settings, *, authenticate: bool = True) -> web.Application:
    """``authenticate=False`` drops the edge checks; only the auth benchmark's baseline uses
    it, and no setting or environment variable reaches it."""
    app = build_app(
        settings,
        service=SERVICE,
        migrations_dir=MIGRATIONS_DIR,
        verify_identity=False,
        extra_middlewares=[target_middleware, auth_middleware, audit_middleware]
        if authenticate
        else [target_middleware],
        serve_document=False,
    )
    app[SETTINGS] = settings
    app[PROXY_CONFIG] = ProxyConfig.from_settings(settings)
    app[ROUTER] = Router(
        {
            PROMOTION: settings.promotion_upstreams.split(","),
            ISSUANCE: settings.issuance_upstreams.split(","),
            REDEMPTION: settings.redemption_upstreams.split(","),
            WEBHOOK: settings.webhook_upstreams.split(","),
        },
        pool_size=settings.upstream_pool_size,
        pool_wait_s=settings.pool_timeout_s,
    )
    app[GATEKEEPER] = Gatekeeper(settings, registry=app[METRICS].registry)
    passwords = Passwords(
        concurrency=settings.password_hash_concurrency, wait_s=settings.password_hash_wait_s
    )
    app[PASSWORDS] = passwords
    Gauge(
        "password_hashes_running",
        "Argon2 password hashes running now (at most PASSWORD_HASH_CONCURRENCY).",
        registry=app[METRICS].registry,
    ).set_function(lambda: passwords.running)
    app.cleanup_ctx.append(upstream_session_ctx)
    app.cleanup_ctx.append(auth_ctx)
    retention.install(app, settings, audit_retention_jobs, service=SERVICE)
    app.on_response_prepare.append(rate_limit_headers)
    add_token_routes(app)
    add_user_routes(app)
    add_docs_routes(app)
    add_status_routes(app)
    add_staff_routes(app)
    add_audit_routes(app)
    add_console_routes(app)
    app.router.add_route("*", "/{tail:.*}", proxy_handler)
    return app
