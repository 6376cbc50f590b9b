"""Redeem (v1.1) and the dry runs (v1.1 isredeemable, v2 is_redeemable)."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation

from aiohttp import web
from coupon_core import idempotency
from coupon_core.errors import BadRequest
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import METRICS, PG_POOL
from coupon_core.metrics import LIMIT_REJECTIONS, REDEMPTION_ITEMS, Metrics
from coupon_core.openapi import Doc, documented

from redemption_service.api import examples, views
from redemption_service.api.queries import IsRedeemableQuery, IsRedeemableV2Query, RedeemQuery
from redemption_service.api.responses import IsRedeemableOut, IsRedeemableV2Out, RedeemOut
from redemption_service.api.schemas import CustomerIn, RedeemIn
from redemption_service.domain.models import Judged, RedeemItem
from redemption_service.domain.status import ItemStatus
from redemption_service.keys import COUNTERS, GROUP_COMMIT, OUTCOMES, RECONCILE_METRICS, SETTINGS
from redemption_service.usecases.redeem import dry_run, redeem

MAX_CODES = 50


def _partial(request: web.Request) -> bool:
    """Whether ``?mode=partial`` (redeem what passes) rather than all or nothing."""
    mode = request.query.get("mode", "all")
    if mode not in ("all", "partial"):
        raise BadRequest("mode must be 'all' or 'partial'")
    return mode == "partial"


# Item statuses that mean a limit was reached, and the limit's name as a metric label.
LIMIT_STATUSES = {
    ItemStatus.ALREADY_USED: "coupon_usage",
    ItemStatus.GROUP_LIMIT_REACHED: "series_or_promotion_total",
    ItemStatus.CUSTOMER_LIMIT_REACHED: "per_customer",
}


def count_items(metrics: Metrics, judged: list[Judged]) -> None:
    for entry in judged:
        metrics.counter(REDEMPTION_ITEMS).labels(status=str(int(entry.status))).inc()
        limit = LIMIT_STATUSES.get(entry.status)
        if limit is not None:
            metrics.counter(LIMIT_REJECTIONS).labels(limit=limit).inc()


@documented(
    Doc(
        summary="Redeem coupons on a transaction (Capillary v1.1)",
        description=(
            "All or nothing by default; ?mode=partial redeems the coupons that pass. One "
            "item_status per coupon (700 success, 7xx refusals). Accepts an Idempotency-Key "
            "header."
        ),
        tags=("redemption",),
        query=RedeemQuery,
        body=RedeemIn,
        body_example=examples.REDEEM,
        responses={
            200: RedeemOut,
            400: "malformed request (v1.1 envelope)",
            409: "same Idempotency-Key still in flight",
            422: "Idempotency-Key reused with another body",
        },
        examples={200: examples.REDEEMED},
    )
)
async def redeem_handler(request: web.Request) -> web.Response:
    partial = _partial(request)
    body = parse_model(RedeemIn, await read_json(request))
    items = [views.redeem_item(c) for c in body.root.coupon]
    app = request.app
    retention = app[SETTINGS].idempotency_retention
    async with idempotency.hold(request, operation="redeem", retention=retention) as held:
        if held.replay is not None:
            return held.replay
        async with redeem(
            app[PG_POOL],
            app[GROUP_COMMIT],
            app[COUNTERS],
            items,
            partial=partial,
            metrics=app[RECONCILE_METRICS],
        ) as redeemed:
            answer = views.redeem_body(redeemed.judged)
            await redeemed.commit(held.answer(200, answer))
    count_items(app[METRICS], redeemed.judged)
    app[OUTCOMES].count(redeemed.judged, now=time.time())
    return json_response(answer)


def _amount(text: str | None) -> Decimal:
    if text is None or not text.strip():
        return Decimal(0)
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BadRequest("amount must be a number") from None
    if not value.is_finite() or value < 0 or value > Decimal("1000000000000"):
        raise BadRequest("amount must be between 0 and 1000000000000")
    return value


def _query_items(request: web.Request, *, external_id_name: str) -> list[RedeemItem]:
    query = request.query
    codes = [c.strip() for c in query.get("code", "").split(",") if c.strip()]
    if not codes:
        raise BadRequest("code is required")
    if len(codes) > MAX_CODES or any(len(c) > 64 for c in codes):
        raise BadRequest(f"at most {MAX_CODES} codes of at most 64 characters")
    try:
        customer = CustomerIn(
            mobile=query.get("mobile"),
            email=query.get("email"),
            external_id=query.get(external_id_name),
            id=query.get("id"),
        )
    except ValueError:
        raise BadRequest("customer identifiers must be at most 255 characters") from None
    ref = views.customer_ref(customer)
    amount = _amount(query.get("amount"))
    number = query.get("transaction_number", query.get("number", ""))[:255]
    return [
        RedeemItem(code=c, customer=ref, amount=amount, transaction_number=number) for c in codes
    ]


@documented(
    Doc(
        summary="Dry run of a redeem (v1.1)",
        description="Query: code, mobile|email|external_id, amount.",
        tags=("redemption",),
        query=IsRedeemableQuery,
        responses={200: IsRedeemableOut, 400: "malformed request"},
    )
)
async def isredeemable_v11(request: web.Request) -> web.Response:
    items = _query_items(request, external_id_name="external_id")
    if len(items) != 1:
        raise BadRequest("exactly one code is expected")
    judged = await dry_run(request.app[PG_POOL], request.app[COUNTERS], items)
    return json_response(views.isredeemable_v11(judged[0]).body())


@documented(
    Doc(
        summary="Dry run of a redeem for several codes (v2)",
        description="Query: code=A,B, mobile|email|externalId|id, amount.",
        tags=("redemption",),
        query=IsRedeemableV2Query,
        responses={200: IsRedeemableV2Out, 400: "malformed request"},
    )
)
async def is_redeemable_v2(request: web.Request) -> web.Response:
    items = _query_items(request, external_id_name="externalId")
    judged = await dry_run(request.app[PG_POOL], request.app[COUNTERS], items)
    return json_response(views.is_redeemable_v2(judged).body())
