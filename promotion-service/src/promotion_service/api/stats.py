"""``GET /api/v1/promotion-stats``: what the console's dashboard shows of promotions."""

from __future__ import annotations

from aiohttp import web
from coupon_core.errors import ValidationFailed
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from promotion_service.api import views
from promotion_service.api.responses import PromotionStatsOut
from promotion_service.db import stats as stats_db
from promotion_service.keys import SETTINGS


@documented(
    Doc(
        summary="Budget burn, the most used promotions and the generation jobs",
        description=(
            "Promotions and coupons with a usage limit, most of it used first (20 each; a "
            "coupon once it has been used), the 10 most used promotions, the unfinished "
            "generation jobs of every promotion and the last 10 finished. Each list is read "
            "through an index or from the promotions table alone: the cost does not grow "
            "with the number of coupons. No query parameter."
        ),
        tags=("promotions",),
        responses={200: PromotionStatsOut, 400: "Validation Failed: a query parameter"},
    )
)
async def promotion_stats(request: web.Request) -> web.Response:
    if request.query:
        raise ValidationFailed(
            {name: ["This endpoint takes no query parameter."] for name in request.query}
        )
    async with request.app[PG_POOL].acquire() as conn:
        found = await stats_db.read(conn)
    return json_response(views.stats(found, request.app[SETTINGS].zone).body())
