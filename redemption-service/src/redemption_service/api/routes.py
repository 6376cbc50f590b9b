"""The redemption-service's routes."""

from __future__ import annotations

from aiohttp import web

from redemption_service.api import activate, ledger_reads, redeem, reverse, subscriptions


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1.1/coupon/redeem", redeem.redeem_handler)
    app.router.add_get("/v1.1/coupon/isredeemable", redeem.isredeemable_v11)
    app.router.add_get("/v2/coupon/is_redeemable", redeem.is_redeemable_v2)
    app.router.add_get("/v2/coupon/redemptions", ledger_reads.search_handler)
    # Before {redemption_id}: a literal segment is not an id.
    app.router.add_get("/v2/coupon/redemptions/stats", ledger_reads.stats_handler)
    app.router.add_get("/v2/coupon/redemptions/{redemption_id}", ledger_reads.detail_handler)
    app.router.add_post("/v2/coupon/redemptions/{redemption_id}/reverse", reverse.reverse_handler)
    app.router.add_post("/v2/coupon/redemptions/reconcile", reverse.reconcile_handler)
    app.router.add_post("/api/v1/coupon/activate", activate.activate_handler)
    app.router.add_get("/api/v1/users/subscriptions", activate.subscriptions_handler)
    app.router.add_get("/api/v1/subscriptions", subscriptions.list_handler)
