"""``/v2/customers``: register, read, look up, and list a customer's coupons."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from coupon_core.errors import BadRequest
from coupon_core.http import json_response, parse_model, read_json
from coupon_core.openapi import Doc, documented
from coupon_core.redis_keys import CustomerIdentifier

from issuance_service.api import views
from issuance_service.api.common import path_id, query_int, stores
from issuance_service.api.queries import CustomerCouponsQuery, LookupQuery
from issuance_service.api.responses import CustomerCouponsOut, CustomerOut
from issuance_service.api.schemas import CustomerIn
from issuance_service.db import coupons as coupons_db
from issuance_service.domain.errors import customer_not_found
from issuance_service.domain.models import Customer
from issuance_service.usecases import registration

LOOKUP_PARAMS: tuple[CustomerIdentifier, ...] = ("mobile", "email", "externalId")


@documented(
    Doc(
        summary="Register a customer (at least one identifier)",
        tags=("customers",),
        body=CustomerIn,
        responses={
            201: CustomerOut,
            400: "invalid input (Capillary v2 envelope: errors[].code, message)",
            409: "an identifier belongs to another customer",
        },
    )
)
async def create(request: web.Request) -> web.Response:
    body = parse_model(CustomerIn, await read_json(request))
    identifiers = registration.normalised(
        {"mobile": body.mobile, "email": body.email, "externalId": body.externalId}
    )
    customer = await registration.register(
        stores(request),
        first_name=body.firstName.strip(),
        last_name=body.lastName.strip(),
        identifiers=identifiers,
    )
    return json_response(views.customer(customer).body(), status=201)


async def _by_path(request: web.Request) -> Customer:
    customer_id = path_id(request)
    if customer_id is None:
        raise customer_not_found(f"no customer with id {request.match_info['id']}")
    return await registration.get(stores(request), customer_id)


@documented(
    Doc(
        summary="Show a customer",
        tags=("customers",),
        responses={200: CustomerOut, 404: "no such customer"},
    )
)
async def get(request: web.Request) -> web.Response:
    return json_response(views.customer(await _by_path(request)).body())


@documented(
    Doc(
        summary="Find a customer by mobile, email or externalId",
        description="Query: exactly one of mobile, email, externalId.",
        tags=("customers",),
        query=LookupQuery,
        responses={
            200: CustomerOut,
            400: "invalid input (Capillary v2 envelope: errors[].code, message)",
            404: "no such customer",
        },
    )
)
async def lookup(request: web.Request) -> web.Response:
    given: dict[CustomerIdentifier, object] = {
        name: request.query.get(name) for name in LOOKUP_PARAMS
    }
    identifiers = registration.normalised(given)
    if not identifiers:
        raise BadRequest("one of mobile, email, externalId is required")
    customer = await registration.find(stores(request), identifiers)
    if customer is None:
        raise customer_not_found("no customer with these identifiers")
    return json_response(views.customer(customer).body())


@documented(
    Doc(
        summary="A customer's issued coupons with their redemption state",
        description="Query: limit (1..1000, default 500).",
        tags=("customers",),
        query=CustomerCouponsQuery,
        responses={
            200: CustomerCouponsOut,
            400: "limit out of range",
            404: "no such customer",
        },
    )
)
async def coupons(request: web.Request) -> web.Response:
    customer = await _by_path(request)
    limit = query_int(request, "limit", default=500, low=1, high=1000)
    async with stores(request).pool.acquire() as conn:
        found = await coupons_db.for_customer(conn, customer.id, limit=limit)
    now = datetime.now(UTC)
    listing = CustomerCouponsOut(
        customerId=customer.id,
        coupons=[views.customer_coupon(c, now=now) for c in found],
        warnings=[],
    )
    return json_response(listing.body())
