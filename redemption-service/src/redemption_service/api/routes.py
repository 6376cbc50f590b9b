"""The redemption-service's routes."""

from __future__ import annotations

from aiohttp import web

from redemption_service.api import activate, redeem, reverse


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1.1/coupon/redeem", redeem.redeem_handler)
    app.router.add_get("/v1.1/coupon/isredeemable", redeem.isredeemable_v11)
    app.router.add_get("/v2/coupon/is_redeemable", redeem.is_redeemable_v2)
    app.router.add_post("/v2/coupon/redemptions/{redemption_id}/reverse", reverse.reverse_handler)
    app.router.add_post("/v2/coupon/redemptions/reconcile", reverse.reconcile_handler)
    app.router.add_post("/api/v1/coupon/activate", activate.activate_handler)
    app.router.add_get("/api/v1/users/subscriptions", activate.subscriptions_handler)
