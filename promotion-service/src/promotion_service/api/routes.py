"""The routes of the promotion-service (Sylius family)."""

from __future__ import annotations

from aiohttp import web

from promotion_service.api import coupons, export, generation, promotions, stats

PROMOTION = "/api/v1/promotions/{promotion:[^/]+}"
COUPONS = PROMOTION + "/coupons"
COUPON = COUPONS + "/{coupon:[^/]+}"


def add_routes(app: web.Application) -> None:
    r = app.router
    for path in ("/api/v1/promotions", "/api/v1/promotions/"):
        r.add_get(path, promotions.list_promotions, allow_head=False)
        r.add_post(path, promotions.create_promotion)
    r.add_get(PROMOTION, promotions.get_promotion, allow_head=False)
    r.add_put(PROMOTION, promotions.replace_promotion)
    r.add_patch(PROMOTION, promotions.patch_promotion)
    r.add_delete(PROMOTION, promotions.delete_promotion)
    for path in (COUPONS, COUPONS + "/"):
        r.add_get(path, coupons.list_coupons, allow_head=False)
        r.add_post(path, coupons.create_coupon)
    # Before COUPON: these names are not coupon codes ("." is never in a code).
    r.add_get(COUPONS + "/export.csv", export.export_csv, allow_head=False)
    r.add_post(COUPONS + "/generate", generation.generate)
    r.add_get(COUPONS + "/generate/{job}", generation.job_status, allow_head=False)
    r.add_get(COUPON, coupons.get_coupon, allow_head=False)
    r.add_put(COUPON, coupons.replace_coupon)
    r.add_patch(COUPON, coupons.patch_coupon)
    r.add_delete(COUPON, coupons.delete_coupon)
    for path in ("/api/v1/promotion-stats", "/api/v1/promotion-stats/"):
        r.add_get(path, stats.promotion_stats, allow_head=False)
