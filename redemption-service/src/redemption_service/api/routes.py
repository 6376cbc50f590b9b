"""The redemption-service's routes, and the one place store outages become a 503."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import RedisError

from redemption_service.api import activate, redeem, reverse
from redemption_service.usecases.redeem import Unavailable

STORE_OUTAGES = (
    RedisError,
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,  # deadlock or serialization failure: retry
)


@web.middleware
async def store_outage_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A store that does not answer is a retryable 503 in the family envelope, not a 500."""
    try:
        return await handler(request)
    except STORE_OUTAGES as exc:
        raise Unavailable(f"A data store is unavailable ({type(exc).__name__}); retry.") from exc


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1.1/coupon/redeem", redeem.redeem_handler)
    app.router.add_get("/v1.1/coupon/isredeemable", redeem.isredeemable_v11)
    app.router.add_get("/v2/coupon/is_redeemable", redeem.is_redeemable_v2)
    app.router.add_post("/v2/coupon/redemptions/{redemption_id}/reverse", reverse.reverse_handler)
    app.router.add_post("/v2/coupon/redemptions/reconcile", reverse.reconcile_handler)
    app.router.add_post("/api/v1/coupon/activate", activate.activate_handler)
    app.router.add_get("/api/v1/users/subscriptions", activate.subscriptions_handler)
