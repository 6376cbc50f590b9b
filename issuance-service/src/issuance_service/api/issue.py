"""``POST /v2/coupon/issue`` and ``/v2/coupon/issue/multiple`` (seed 002)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from coupon_core import idempotency
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import METRICS
from coupon_core.metrics import ISSUES, LIMIT_REJECTIONS
from coupon_core.openapi import Doc, documented
from coupon_core.redis_keys import CustomerIdentifier

from issuance_service.api import examples, views
from issuance_service.api.common import stores
from issuance_service.api.responses import IssuedCouponOut, IssuedCouponsOut
from issuance_service.api.schemas import CustomerRef, IssueIn, IssueMultipleIn
from issuance_service.domain.errors import LimitExceeded
from issuance_service.domain.models import Customer
from issuance_service.keys import SETTINGS
from issuance_service.usecases.issue import Issued, issue, load_for_issue


def _given(ref: CustomerRef) -> dict[CustomerIdentifier, object]:
    return {"id": ref.id, "mobile": ref.mobile, "email": ref.email, "externalId": ref.externalId}


def _answer(issued: Issued, owner: Customer, *, many: bool) -> dict[str, Any]:
    if many:
        return views.issued_many(issued.series, issued.coupons, owner).body()
    return views.issued(issued.series, issued.coupons[0], owner).body()


async def _issue(request: web.Request, body: IssueIn, count: int, many: bool) -> web.Response:
    app = request.app
    operation = "issue_multiple" if many else "issue"
    retention = app[SETTINGS].idempotency_retention
    async with idempotency.hold(request, operation=operation, retention=retention) as held:
        if held.replay is not None:
            return held.replay
        deps = stores(request)
        series, customer = await load_for_issue(
            deps, body.seriesId, _given(body.customer), datetime.now(UTC)
        )
        try:
            async with issue(deps, series=series, customer=customer, count=count) as issued:
                answer = _answer(issued, customer, many=many)
                await issued.commit(held.answer(200, answer))
        except LimitExceeded as exc:
            app[METRICS].counter(LIMIT_REJECTIONS).labels(limit=exc.limit).inc()
            raise
    app[METRICS].counter(ISSUES).labels(endpoint="multiple" if many else "issue").inc(count)
    return json_response(answer)


@documented(
    Doc(
        summary="Issue a coupon of a series to a customer",
        description="Accepts an Idempotency-Key header.",
        tags=("issue",),
        body=IssueIn,
        body_example=examples.ISSUE,
        responses={
            200: IssuedCouponOut,
            400: "invalid input (Capillary v2 envelope: errors[].code, message)",
            404: "no such series or customer",
            409: "same Idempotency-Key still in flight",
            422: "Idempotency-Key reused with another body",
        },
        examples={200: examples.ISSUED},
    )
)
async def issue_one(request: web.Request) -> web.Response:
    body = parse_model(IssueIn, await read_json(request))
    return await _issue(request, body, 1, many=False)


@documented(
    Doc(
        summary="Issue several coupons of a series to a customer",
        tags=("issue",),
        body=IssueMultipleIn,
        responses={
            200: IssuedCouponsOut,
            400: "invalid input (Capillary v2 envelope: errors[].code, message)",
            404: "no such series or customer",
        },
    )
)
async def issue_multiple(request: web.Request) -> web.Response:
    body = parse_model(IssueMultipleIn, await read_json(request))
    return await _issue(request, body, body.count, many=True)
