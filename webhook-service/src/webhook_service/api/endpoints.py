"""``/api/v1/webhooks`` and ``/api/v1/webhooks/{id}``: subscribe, list, show, change and
delete endpoints, and rotate an endpoint's signing secret."""

from __future__ import annotations

from aiohttp import web
from coupon_core.http import bigint, json_response, parse_model, read_json
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from webhook_service.api.schemas import CreateWebhook, RotateSecret, UpdateWebhook, WebhookListQuery
from webhook_service.api.views import WebhookListOut, WebhookOut, WebhookSecretOut
from webhook_service.db import endpoints as endpoints_db
from webhook_service.keys import SETTINGS
from webhook_service.usecases import endpoints
from webhook_service.usecases.endpoints import not_found

TAGS = ("webhooks",)
UNSAFE = "unsafe_url: not https, or an address that may not be reached (docs/webhooks.md)"


def endpoint_id(request: web.Request) -> int:
    """The ``{id}`` of the path; 404 when it cannot name an endpoint."""
    raw = request.match_info["id"]
    found = bigint(raw)
    if found is None:
        raise not_found(repr(raw))
    return found


@documented(
    Doc(
        summary="Subscribe an endpoint (its signing secret is shown once)",
        description=(
            "The URL must be https (http only for a loopback host when "
            "WEBHOOK_ALLOW_HTTP_LOOPBACK is on) and resolve only to public addresses, unless "
            "WEBHOOK_ALLOWED_NETWORKS names them. events: types of GET "
            '/api/v1/webhooks/event-types, or ["*"] for every type.'
        ),
        tags=TAGS,
        body=CreateWebhook,
        body_example={
            "url": "https://crm.example.com/hooks/coupons",
            "events": ["coupon.redeemed", "limit.reached"],
            "description": "CRM",
        },
        responses={201: WebhookSecretOut, 400: f"invalid input, or {UNSAFE}"},
    )
)
async def create_webhook(request: web.Request) -> web.Response:
    body = parse_model(CreateWebhook, await read_json(request))
    endpoint = await endpoints.create(
        request.app[PG_POOL],
        request.app[SETTINGS],
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
    )
    return json_response(WebhookSecretOut.with_secret(endpoint).body(), status=201)


@documented(
    Doc(
        summary="List the endpoints",
        description="By id; the next page starts after the last id of this one.",
        tags=TAGS,
        query=WebhookListQuery,
        responses={200: WebhookListOut, 400: "after or limit out of range"},
    )
)
async def list_webhooks(request: web.Request) -> web.Response:
    query = parse_model(WebhookListQuery, dict(request.query))
    async with request.app[PG_POOL].acquire() as conn:
        found = await endpoints_db.list_page(conn, after=query.after, limit=query.limit)
    return json_response(WebhookListOut(webhooks=[WebhookOut.of(e) for e in found]).body())


@documented(
    Doc(
        summary="Show an endpoint",
        tags=TAGS,
        responses={200: WebhookOut, 404: "no such endpoint"},
    )
)
async def show_webhook(request: web.Request) -> web.Response:
    endpoint = await endpoints.get(request.app[PG_POOL], endpoint_id(request))
    return json_response(WebhookOut.of(endpoint).body())


@documented(
    Doc(
        summary="Change an endpoint's URL, events, description, or whether it is enabled",
        description=(
            "Fields left out stay as they are. enabled=true re-enables a disabled endpoint: "
            "its failure record (failingSince, disabledAt, disabledReason) is cleared."
        ),
        tags=TAGS,
        body=UpdateWebhook,
        body_example={"enabled": True},
        responses={
            200: WebhookOut,
            400: f"invalid input, or {UNSAFE}",
            404: "no such endpoint",
        },
    )
)
async def update_webhook(request: web.Request) -> web.Response:
    webhook_id = endpoint_id(request)
    body = parse_model(UpdateWebhook, await read_json(request))
    endpoint = await endpoints.update(
        request.app[PG_POOL],
        request.app[SETTINGS],
        webhook_id,
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
    )
    return json_response(WebhookOut.of(endpoint).body())


@documented(
    Doc(
        summary="Delete an endpoint, its deliveries and its attempt log",
        tags=TAGS,
        responses={200: WebhookOut, 404: "no such endpoint"},
    )
)
async def delete_webhook(request: web.Request) -> web.Response:
    endpoint = await endpoints.delete(request.app[PG_POOL], endpoint_id(request))
    return json_response(WebhookOut.of(endpoint).body())


@documented(
    Doc(
        summary="Rotate an endpoint's signing secret (the new one is shown once)",
        description=(
            "Deliveries are signed with the new secret and, until previousSecretExpiresAt, "
            "with the previous one too (a signature each), so receivers can switch without "
            "missing an event. The body is optional."
        ),
        tags=TAGS,
        body=RotateSecret,
        body_example={"graceHours": 24},
        responses={200: WebhookSecretOut, 400: "invalid input", 404: "no such endpoint"},
    )
)
async def rotate_secret(request: web.Request) -> web.Response:
    webhook_id = endpoint_id(request)
    body = parse_model(RotateSecret, await read_json(request, allow_empty=True))
    endpoint = await endpoints.rotate_secret(
        request.app[PG_POOL], request.app[SETTINGS], webhook_id, grace_hours=body.graceHours
    )
    return json_response(WebhookSecretOut.with_secret(endpoint).body())
