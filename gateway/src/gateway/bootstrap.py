"""Start-up tasks of the gateway: the bootstrap admin token and the rate limiter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from coupon_core.keys import PG_POOL, REDIS

from gateway.db import api_tokens
from gateway.keys import GATEKEEPER, SETTINGS
from gateway.ratelimit import RateLimiter

log = logging.getLogger(__name__)

BOOTSTRAP_NAME = "bootstrap-admin"


async def ensure_bootstrap_token(app: web.Application) -> None:
    secret = app[SETTINGS].bootstrap_admin_token
    if secret is None:
        return
    digest = app[GATEKEEPER].hasher.digest(secret.get_secret_value())
    async with app[PG_POOL].acquire() as conn, conn.transaction():
        token = await api_tokens.ensure_bootstrap(conn, name=BOOTSTRAP_NAME, secret_hash=digest)
    log.info("bootstrap API token %r (id %s) ensured", token.name, token.id)


async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs after the PostgreSQL and Redis contexts."""
    app[GATEKEEPER].limiter = RateLimiter(app[REDIS])
    await ensure_bootstrap_token(app)
    yield
