"""``POST /api/v1/webhooks/{id}/test`` and ``/redeliver``: queue a webhook.test event, or
deliveries again; the deliverer of this replica is woken at once."""

from __future__ import annotations

from aiohttp import web
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from webhook_service.api.endpoints import TAGS, endpoint_id
from webhook_service.api.schemas import Redeliver
from webhook_service.api.views import RedeliveryQueuedOut, SentTestOut
from webhook_service.db import endpoints as endpoints_db
from webhook_service.keys import DELIVERIES_QUEUED
from webhook_service.usecases import redeliver
from webhook_service.usecases.endpoints import not_found


async def _existing(request: web.Request) -> int:
    webhook_id = endpoint_id(request)
    async with request.app[PG_POOL].acquire() as conn:
        if not await endpoints_db.exists(conn, webhook_id):
            raise not_found(webhook_id)
    return webhook_id


@documented(
    Doc(
        summary="Send a webhook.test event to the endpoint",
        description=(
            "Queued like any event (signed, retried); its attempts show in GET .../attempts. "
            "A body, if any, is ignored."
        ),
        tags=TAGS,
        responses={202: SentTestOut, 404: "no such endpoint"},
    )
)
async def send_test(request: web.Request) -> web.Response:
    webhook_id = await _existing(request)
    event_id = await redeliver.send_test(request.app[PG_POOL], webhook_id)
    request.app[DELIVERIES_QUEUED].set()
    return json_response(SentTestOut(eventId=event_id).body(), status=202)


@documented(
    Doc(
        summary="Queue one event, or every delivery since a time, again",
        description=(
            '{"eventId": "evt_..."} queues that event\'s delivery to this endpoint again; '
            '{"since": "<ISO 8601>", "status": "failed"} every delivery to it created since '
            "then in that status (failed when not given; pending brings retries forward). "
            "Each is attempted afresh with a new retry "
            "window and the same event id, so receivers de-duplicate by it."
        ),
        tags=TAGS,
        body=Redeliver,
        body_example={"since": "2026-12-06T00:00:00Z", "status": "failed"},
        responses={202: RedeliveryQueuedOut, 400: "invalid input", 404: "no such endpoint"},
    )
)
async def redeliver_events(request: web.Request) -> web.Response:
    webhook_id = await _existing(request)
    body = parse_model(Redeliver, await read_json(request))
    pool = request.app[PG_POOL]
    if body.eventId is not None:
        queued = await redeliver.redeliver_event(pool, webhook_id, body.eventId)
    else:
        assert body.since is not None
        queued = await redeliver.redeliver_since(pool, webhook_id, body.since, body.status)
    if queued:
        request.app[DELIVERIES_QUEUED].set()
    return json_response(RedeliveryQueuedOut(queued=queued).body(), status=202)
