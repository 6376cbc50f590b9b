"""``GET /v2/coupon/issue/stats``: what the console's dashboard shows of issuance."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from coupon_core.http import json_response, parse_model
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented
from coupon_core.timeseries import WindowQuery, window

from issuance_service.api import views
from issuance_service.api.responses import IssueStatsOut
from issuance_service.usecases import tally


@documented(
    Doc(
        summary="Issues per hour and per day, and per series against their limits",
        description=(
            "Coupons issued in each of the last `hours` UTC hours and `days` UTC days (every "
            "bucket present, zero when nothing was issued), the 20 series with a maxCreate "
            "that issued most of it and the 10 series that issued most. Read from hourly "
            "tallies plus the coupons issued since the last hour counted: the cost does "
            "not grow with the number of issued coupons."
        ),
        tags=("issue",),
        query=WindowQuery,
        responses={
            200: IssueStatsOut,
            400: "hours or days out of range, or an unknown parameter (the message names it)",
        },
    )
)
async def issue_stats(request: web.Request) -> web.Response:
    query = parse_model(WindowQuery, dict(request.query))
    buckets = window(hours=query.hours, days=query.days, now=datetime.now(UTC))
    found = await tally.issue_stats(request.app[PG_POOL], buckets)
    return json_response(views.issue_stats(found, buckets).body())
