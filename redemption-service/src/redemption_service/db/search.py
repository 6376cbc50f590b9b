"""SQL of the ledger search: newest first, each filter on an index of every attached month
(migration 0007; docs/redemption.md, "Search the ledger")."""

from __future__ import annotations

from typing import Any

from coupon_core.db import Connection

from redemption_service.db.ledger import COLUMNS
from redemption_service.domain.models import Redemption, SearchFilters

# Each filter's condition, ``{}`` standing for its parameter's number. A transaction number
# names its partial index's predicate too: a generic plan cannot tell a parameter from ''.
_CONDITIONS = (
    ("redemption_id", "id = ${}"),
    ("code", "code = ${}"),
    ("customer_id", "customer_id = ${}"),
    ("transaction_number", "transaction_number = ${} AND transaction_number <> ''"),
    ("group", "group_ref = ${}"),
    ("since", "redeemed_at >= ${}"),
    ("until", "redeemed_at < ${}"),
)


def statement(filters: SearchFilters, *, offset: int, limit: int) -> tuple[str, list[Any]]:
    """The search's SQL and its arguments. The text is composed from the constant
    conditions above, one per filter given (so each combination is its own prepared
    statement, planned for the indexes it can use); every value is a parameter."""
    where: list[str] = []
    args: list[Any] = []
    for name, condition in _CONDITIONS:
        value = getattr(filters, name)
        if value is not None:
            args.append(value)
            where.append(condition.format(len(args)))
    sql = f"SELECT {COLUMNS} FROM redemptions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    args += [limit, offset]
    sql += f" ORDER BY redeemed_at DESC, id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)}"
    return sql, args


async def find(
    conn: Connection, filters: SearchFilters, *, offset: int, limit: int
) -> list[Redemption]:
    """Up to ``limit`` redemptions matching ``filters``, newest first, after ``offset``."""
    sql, args = statement(filters, offset=offset, limit=limit)
    return [Redemption(**dict(row)) for row in await conn.fetch(sql, *args)]
