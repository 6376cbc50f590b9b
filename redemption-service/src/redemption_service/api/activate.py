"""CRM activation and the caller's subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from coupon_core import idempotency
from coupon_core.errors import DomainError, Forbidden
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.identity import Principal
from coupon_core.keys import METRICS, PG_POOL, PRINCIPAL, REDIS
from coupon_core.metrics import ACTIVATIONS
from coupon_core.openapi import Doc, documented

from redemption_service.api import examples
from redemption_service.api.responses import ActivationOut, SubscriptionOut, SubscriptionsOut
from redemption_service.api.schemas import ActivateIn
from redemption_service.db import activations
from redemption_service.db.activations import Subscription
from redemption_service.keys import SETTINGS
from redemption_service.usecases.activate import Activated, activate


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _user(request: web.Request) -> Principal:
    """The calling user (its id, and its email as the principal's name)."""
    principal = request[PRINCIPAL]
    if principal.kind != "user" or not principal.id:
        raise Forbidden("A user token is required.", code="cannot_authorize_user")
    return principal


def activation_body(result: Activated) -> dict[str, Any]:
    sub = result.subscription
    return ActivationOut(
        coupon_id=result.coupon_id,
        coupon_type=result.promotion_code,
        subscription_id=sub.id,
        subscription_type_id=sub.subscription_type_id,
        subscription_type_name=sub.subscription_type_name,
        subscription_start_time=rfc3339(sub.start_time),
        subscription_end_time=rfc3339(sub.end_time),
    ).body()


@documented(
    Doc(
        summary="Activate a subscription coupon for the calling user (CRM)",
        tags=("activation",),
        body=ActivateIn,
        body_example=examples.ACTIVATE,
        responses={
            200: ActivationOut,
            400: "coupon_already_used or invalid_input",
            403: "cannot_authorize_user (not a user token)",
            404: "coupon_doesnt_exist",
            410: "coupon_expired",
        },
        examples={200: examples.ACTIVATED},
    )
)
async def activate_handler(request: web.Request) -> web.Response:
    user = _user(request)
    body = parse_model(ActivateIn, await read_json(request))
    app = request.app
    retention = app[SETTINGS].idempotency_retention
    async with idempotency.hold(request, operation="activate", retention=retention) as held:
        if held.replay is not None:
            return held.replay
        try:
            async with activate(
                app[PG_POOL],
                app[REDIS],
                user_id=user.id,
                user_email=user.name or None,
                code=body.code,
                notify_user=body.notifyUser,
            ) as activated:
                answer = activation_body(activated)
                await activated.commit(held.answer(200, answer))
        except DomainError as exc:
            app[METRICS].counter(ACTIVATIONS).labels(outcome=exc.code).inc()
            raise
    app[METRICS].counter(ACTIVATIONS).labels(outcome="activated").inc()
    return json_response(answer)


def _subscription(sub: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id,
        subscription_type_id=sub.subscription_type_id,
        subscription_type_name=sub.subscription_type_name,
        start_time=rfc3339(sub.start_time),
        end_time=rfc3339(sub.end_time),
    )


@documented(
    Doc(
        summary="The calling user's subscriptions",
        tags=("activation",),
        responses={200: SubscriptionsOut, 403: "cannot_authorize_user (not a user token)"},
    )
)
async def subscriptions_handler(request: web.Request) -> web.Response:
    user = _user(request)
    async with request.app[PG_POOL].acquire() as conn:
        found = await activations.of_user(conn, user.id)
    listing = SubscriptionsOut(status="ok", subscriptions=[_subscription(s) for s in found])
    return json_response(listing.body())
