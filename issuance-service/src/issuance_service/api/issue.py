"""``POST /v2/coupon/issue`` and ``/v2/coupon/issue/multiple`` (seed 002)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from coupon_core import idempotency
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import METRICS, PRINCIPAL
from coupon_core.keyspace import CustomerIdentifier
from coupon_core.metrics import ISSUES, LIMIT_REJECTIONS
from coupon_core.openapi import Doc, documented

from issuance_service.api import examples, views
from issuance_service.api.common import stores
from issuance_service.api.responses import IssuedCouponOut, IssuedCouponsOut
from issuance_service.api.schemas import CustomerRef, IssueIn, IssueMultipleIn
from issuance_service.domain.errors import LimitExceeded
from issuance_service.domain.models import Customer, IssuedCoupon, Series
from issuance_service.keys import SETTINGS
from issuance_service.usecases import issue as issuing


def _given(ref: CustomerRef) -> dict[CustomerIdentifier, object]:
    return {"id": ref.id, "mobile": ref.mobile, "email": ref.email, "externalId": ref.externalId}


async def _claim(
    request: web.Request, scope: str
) -> issuing.IdempotencyClaim | web.Response | None:
    """None without an Idempotency-Key; the stored response for a completed retry."""
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return None
    idempotency.validate_key(key)
    principal = request.get(PRINCIPAL)
    full_scope = f"{scope}:{principal.kind}:{principal.id}" if principal else scope
    fingerprint = idempotency.request_hash(request.method, request.path, await request.read())
    replay = await idempotency.begin(
        stores(request).pool,
        scope=full_scope,
        key=key,
        fingerprint=fingerprint,
        retention=request.app[SETTINGS].idempotency_retention,
    )
    if replay is not None:
        return json_response(replay.body, status=replay.status)
    return issuing.IdempotencyClaim(scope=full_scope, key=key)


async def _issue(request: web.Request, body: IssueIn, count: int, many: bool) -> web.Response:
    claim = await _claim(request, "issue_multiple" if many else "issue")
    if isinstance(claim, web.Response):
        return claim
    deps = stores(request)
    try:
        series, customer = await issuing.load_for_issue(
            deps, body.seriesId, _given(body.customer), datetime.now(UTC)
        )

        def respond(
            issued_from: Series, coupons: list[IssuedCoupon], owner: Customer = customer
        ) -> dict[str, Any]:
            if many:
                return views.issued_many(issued_from, coupons, owner).body()
            return views.issued(issued_from, coupons[0], owner).body()

        result = await issuing.issue(
            deps,
            series=series,
            customer=customer,
            count=count,
            respond=respond,
            claim=claim,
        )
    except BaseException as exc:
        if isinstance(exc, LimitExceeded):
            request.app[METRICS].counter(LIMIT_REJECTIONS).labels(limit=exc.limit).inc()
        if claim is not None:
            await idempotency.abandon(deps.pool, scope=claim.scope, key=claim.key)
        raise
    endpoint = "multiple" if many else "issue"
    request.app[METRICS].counter(ISSUES).labels(endpoint=endpoint).inc(count)
    return json_response(result)


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
