"""CRM activation and the caller's subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from coupon_core.db import Connection
from coupon_core.errors import Forbidden
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.keys import PG_POOL, PRINCIPAL, REDIS

from redemption_service.api.idempotent import Key, respond
from redemption_service.api.schemas import ActivateIn
from redemption_service.db import activations
from redemption_service.db.activations import Subscription
from redemption_service.usecases.activate import Activated, activate


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _user_id(request: web.Request) -> str:
    principal = request[PRINCIPAL]
    if principal.kind != "user" or not principal.id:
        raise Forbidden("A user token is required.", code="cannot_authorize_user")
    return principal.id


def activation_body(result: Activated) -> dict[str, Any]:
    sub = result.subscription
    return {
        "coupon_id": result.coupon_id,
        "coupon_type": result.promotion_code,
        "subscription_id": sub.id,
        "subscription_type_id": sub.subscription_type_id,
        "subscription_type_name": sub.subscription_type_name,
        "subscription_start_time": _rfc3339(sub.start_time),
        "subscription_end_time": _rfc3339(sub.end_time),
    }


async def activate_handler(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    raw = await request.read()
    body = parse_model(ActivateIn, await read_json(request))
    app = request.app

    async def run(key: Key | None) -> tuple[int, Any]:
        async def on_commit(conn: Connection, result: Activated) -> None:
            if key is not None:
                await key.complete(conn, status=200, body=activation_body(result))

        result = await activate(
            app[PG_POOL],
            app[REDIS],
            user_id=user_id,
            code=body.code,
            notify_user=body.notifyUser,
            on_commit=on_commit,
        )
        return 200, activation_body(result)

    return await respond(request, operation="activate", raw=raw, run=run)


def _subscription(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "subscription_type_id": sub.subscription_type_id,
        "subscription_type_name": sub.subscription_type_name,
        "start_time": _rfc3339(sub.start_time),
        "end_time": _rfc3339(sub.end_time),
    }


async def subscriptions_handler(request: web.Request) -> web.Response:
    user_id = _user_id(request)
    async with request.app[PG_POOL].acquire() as conn:
        found = await activations.of_user(conn, user_id)
    return json_response({"status": "ok", "subscriptions": [_subscription(s) for s in found]})
