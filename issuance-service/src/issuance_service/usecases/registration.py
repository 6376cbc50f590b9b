"""Customers: registration, lookup by any identifier, and resolution for an issue."""

from __future__ import annotations

from collections.abc import Mapping

from coupon_core.customers import IDENTIFIERS, normalise
from coupon_core.db import Connection
from coupon_core.errors import BadRequest, Conflict
from coupon_core.http import bigint
from coupon_core.redis_keys import CustomerIdentifier

from issuance_service.db import customers as customers_db
from issuance_service.domain.errors import customer_not_found
from issuance_service.domain.models import Customer
from issuance_service.usecases.publish import publish_customer
from issuance_service.usecases.stores import Stores

LOOKUP_ORDER: tuple[CustomerIdentifier, ...] = ("mobile", "email", "externalId")


def normalised(given: Mapping[CustomerIdentifier, object]) -> dict[CustomerIdentifier, str]:
    """The identifiers present (empty strings count as absent), in canonical form."""
    found: dict[CustomerIdentifier, str] = {}
    for identifier in IDENTIFIERS:
        value = normalise(identifier, given.get(identifier))
        if value is not None:
            found[identifier] = value
    return found


def _customer_id(value: str) -> int:
    customer_id = bigint(value)
    if customer_id is None:
        raise BadRequest("customer.id must be a positive integer")
    return customer_id


async def register(
    stores: Stores,
    *,
    first_name: str,
    last_name: str,
    identifiers: Mapping[CustomerIdentifier, str],
) -> Customer:
    if not any(identifiers.get(i) for i in LOOKUP_ORDER):
        raise BadRequest("at least one of mobile, email, externalId is required")
    async with stores.pool.acquire() as conn, conn.transaction():
        customer = await customers_db.insert(
            conn,
            first_name=first_name,
            last_name=last_name,
            mobile=identifiers.get("mobile"),
            email=identifiers.get("email"),
            external_id=identifiers.get("externalId"),
        )
    await publish_customer(stores.redis, customer)
    return customer


async def get(stores: Stores, customer_id: int) -> Customer:
    async with stores.pool.acquire() as conn:
        customer = await customers_db.get(conn, customer_id)
    if customer is None:
        raise customer_not_found(f"no customer with id {customer_id}")
    return customer


async def find_on(
    conn: Connection, identifiers: Mapping[CustomerIdentifier, str]
) -> Customer | None:
    """The customer the first given identifier (id, mobile, email, externalId) names."""
    if "id" in identifiers:
        return await customers_db.get(conn, _customer_id(identifiers["id"]))
    for identifier in LOOKUP_ORDER:
        if identifier in identifiers:
            found = await customers_db.find(conn, identifier, identifiers[identifier])
            if found is not None:
                return found
    return None


async def find(stores: Stores, identifiers: Mapping[CustomerIdentifier, str]) -> Customer | None:
    async with stores.pool.acquire() as conn:
        return await find_on(conn, identifiers)


def identifiers_for_issue(
    given: Mapping[CustomerIdentifier, object],
) -> dict[CustomerIdentifier, str]:
    """The identifiers naming the customer of an issue (400 when there is none)."""
    identifiers = normalised(given)
    if not identifiers:
        raise BadRequest("customer: one of id, mobile, email, externalId is required")
    return identifiers


async def register_for_issue(
    stores: Stores, identifiers: Mapping[CustomerIdentifier, str]
) -> Customer:
    """The customer of an issue that :func:`find_on` did not find: one known only by
    mobile/email/externalId is registered now. An unknown id is an error."""
    if "id" in identifiers:
        raise customer_not_found(f"no customer with id {identifiers['id']}")
    try:
        return await register(stores, first_name="", last_name="", identifiers=identifiers)
    except Conflict:
        # Registered concurrently by another request, or the identifiers name two customers.
        found = await find(stores, identifiers)
        if found is None:
            raise
        return found
