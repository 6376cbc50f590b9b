"""``/api/v1/webhooks/{id}/deliveries`` and ``/attempts``: what was sent to an endpoint,
and every attempt at it, newest first."""

from __future__ import annotations

from aiohttp import web
from coupon_core.http import json_response, parse_model
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from webhook_service.api.endpoints import TAGS, endpoint_id
from webhook_service.api.schemas import AttemptsQuery, DeliveriesQuery
from webhook_service.api.views import AttemptOut, AttemptsOut, DeliveriesOut, DeliveryOut
from webhook_service.db import endpoints as endpoints_db
from webhook_service.db import log
from webhook_service.usecases.endpoints import not_found


@documented(
    Doc(
        summary="The endpoint's deliveries: one per event, with its status",
        description=(
            "Newest first; the next page: before = the smallest id of this one. A delivery "
            "is pending while it is retried, delivered once an attempt got a 2xx, failed "
            "once its retry window passed (POST .../redeliver queues it again)."
        ),
        tags=TAGS,
        query=DeliveriesQuery,
        responses={200: DeliveriesOut, 400: "bad status, limit or before", 404: "no such endpoint"},
    )
)
async def list_deliveries(request: web.Request) -> web.Response:
    webhook_id = endpoint_id(request)
    query = parse_model(DeliveriesQuery, dict(request.query))
    async with request.app[PG_POOL].acquire() as conn:
        if not await endpoints_db.exists(conn, webhook_id):
            raise not_found(webhook_id)
        found = await log.deliveries(
            conn, webhook_id, status=query.status, before=query.before, limit=query.limit
        )
    return json_response(DeliveriesOut(deliveries=[DeliveryOut.of(d) for d in found]).body())


@documented(
    Doc(
        summary="The endpoint's attempt log",
        description=(
            "Every attempt: when, its outcome, the HTTP status, the latency and the first "
            "bytes of the response (kept WEBHOOK_ATTEMPT_RETENTION_H). Newest first; the next "
            "page: before = the smallest id of this one."
        ),
        tags=TAGS,
        query=AttemptsQuery,
        responses={
            200: AttemptsOut,
            400: "bad since, outcome, limit or before",
            404: "no such endpoint",
        },
    )
)
async def list_attempts(request: web.Request) -> web.Response:
    webhook_id = endpoint_id(request)
    query = parse_model(AttemptsQuery, dict(request.query))
    async with request.app[PG_POOL].acquire() as conn:
        if not await endpoints_db.exists(conn, webhook_id):
            raise not_found(webhook_id)
        found = await log.attempts(
            conn,
            webhook_id,
            since=query.since,
            outcome=query.outcome,
            before=query.before,
            limit=query.limit,
        )
    return json_response(AttemptsOut(attempts=[AttemptOut.of(a) for a in found]).body())
