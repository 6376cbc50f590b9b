"""``GET /api/v1/subscriptions`` (CRM): the subscriptions activations granted a user, for
the console's customer page and support."""

from __future__ import annotations

from aiohttp import web
from coupon_core.errors import ValidationFailed
from coupon_core.http import json_response
from coupon_core.keys import PG_POOL
from coupon_core.openapi import Doc, documented

from redemption_service.api.activate import rfc3339
from redemption_service.api.ledger_reads import require_client
from redemption_service.api.queries import SubscriptionsQuery, parse_query
from redemption_service.api.responses import (
    GrantedSubscriptionOut,
    GrantedSubscriptionsOut,
    SubscriptionsPage,
)
from redemption_service.db import activations
from redemption_service.db.activations import Granted
from redemption_service.domain.models import group_parts


def _granted(found: Granted) -> GrantedSubscriptionOut:
    sub = found.subscription
    return GrantedSubscriptionOut(
        id=sub.id,
        user_id=sub.user_id,
        email=sub.user_email,
        coupon_code=found.code,
        coupon_type=group_parts(found.group_ref)[0] or found.group_ref,
        subscription_type_id=sub.subscription_type_id,
        subscription_type_name=sub.subscription_type_name,
        start_time=rfc3339(sub.start_time),
        end_time=rfc3339(sub.end_time),
        activated_at=rfc3339(found.activated_at),
    )


@documented(
    Doc(
        summary="The subscriptions activations granted a user",
        description=(
            "By userId (the gateway user), by email (the user's at activation, any case), "
            "or both; one of them is required. The latest first."
        ),
        tags=("activation",),
        query=SubscriptionsQuery,
        responses={
            200: GrantedSubscriptionsOut,
            400: "invalid_input: no userId or email, or a bad page or limit",
            403: "forbidden (a user token)",
        },
    )
)
async def list_handler(request: web.Request) -> web.Response:
    require_client(request)
    query = parse_query(SubscriptionsQuery, request)
    if query.userId is None and query.email is None:
        raise ValidationFailed({"userId": ["userId or email is required"]})
    async with request.app[PG_POOL].acquire() as conn:
        total, found = await activations.granted(
            conn,
            user_id=query.userId,
            email=query.email,
            offset=(query.page - 1) * query.limit,
            limit=query.limit,
        )
    page = SubscriptionsPage(
        page=query.page,
        limit=query.limit,
        total=total,
        pages=max(1, -(-total // query.limit)),
    )
    listing = GrantedSubscriptionsOut(
        status="ok", subscriptions=[_granted(g) for g in found], pagination=page
    )
    return json_response(listing.body())
