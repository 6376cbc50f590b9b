"""Customers in PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from coupon_core.db import Connection

from issuance_service.domain.errors import identifier_taken
from issuance_service.domain.models import Customer

_COLUMNS = "id, first_name, last_name, mobile, email, external_id, updated_at"
_IDENTIFIER_COLUMNS = {"mobile": "mobile", "email": "email", "externalId": "external_id"}
_CONSTRAINTS = {f"customers_{column}_key": name for name, column in _IDENTIFIER_COLUMNS.items()}


def _customer(row: asyncpg.Record) -> Customer:
    return Customer(**dict(row))


async def insert(
    conn: Connection,
    *,
    first_name: str,
    last_name: str,
    mobile: str | None,
    email: str | None,
    external_id: str | None,
) -> Customer:
    try:
        row = await conn.fetchrow(
            "INSERT INTO customers (first_name, last_name, mobile, email, external_id) "
            f"VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
            first_name,
            last_name,
            mobile,
            email,
            external_id,
        )
    except asyncpg.UniqueViolationError as exc:
        raise identifier_taken(_CONSTRAINTS.get(exc.constraint_name or "", "identifier")) from None
    assert row is not None
    return _customer(row)


async def get(conn: Connection, customer_id: int) -> Customer | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM customers WHERE id = $1", customer_id)
    return _customer(row) if row else None


async def find(conn: Connection, identifier: str, value: str) -> Customer | None:
    """By a normalised ``mobile``, ``email`` or ``externalId``."""
    column = _IDENTIFIER_COLUMNS[identifier]
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM customers WHERE {column} = $1", value)
    return _customer(row) if row else None


async def iterate(conn: Connection, *, batch: int) -> AsyncIterator[list[Customer]]:
    """Every customer, in batches (for republishing the index)."""
    after = 0
    while True:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM customers WHERE id > $1 ORDER BY id LIMIT $2", after, batch
        )
        if not rows:
            return
        yield [_customer(row) for row in rows]
        after = rows[-1]["id"]
