"""The issuance-service's routes."""

from __future__ import annotations

from aiohttp import web

from issuance_service.api import customers, issue, series, stats


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.post("/v2/customers", customers.create),
            web.get("/v2/customers/lookup", customers.lookup),
            web.get("/v2/customers/{id}", customers.get),
            web.get("/v2/customers/{id}/coupons", customers.coupons),
            web.post("/v2/coupon/series", series.create),
            web.get("/v2/coupon/series", series.list_all),
            web.get("/v2/coupon/series/{id}", series.get),
            web.put("/v2/coupon/series/{id}", series.update),
            web.post("/v2/coupon/issue", issue.issue_one),
            web.post("/v2/coupon/issue/multiple", issue.issue_multiple),
            web.get("/v2/coupon/issue/stats", stats.issue_stats),
        ]
    )
