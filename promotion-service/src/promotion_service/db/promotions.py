"""The promotions table."""

from __future__ import annotations

from typing import Any

import asyncpg
from coupon_core.db import Connection

from promotion_service.domain.errors import promotion_code_taken
from promotion_service.domain.models import Promotion

COLUMNS = (
    "id, code, name, description, priority, exclusive, usage_limit, used, coupon_based, "
    "starts_at, ends_at, rules, actions, channels, created_at, updated_at"
)
# Whitelisted ORDER BY clauses: the only text ever placed into a query.
SORTS = {
    ("code", "asc"): "code ASC",
    ("code", "desc"): "code DESC",
    ("name", "asc"): "name ASC, id ASC",
    ("name", "desc"): "name DESC, id DESC",
    ("priority", "asc"): "priority ASC, id ASC",
    ("priority", "desc"): "priority DESC, id DESC",
    ("id", "asc"): "id ASC",
}


def to_promotion(row: asyncpg.Record) -> Promotion:
    return Promotion(**dict(row))


async def get(conn: Connection, code: str, *, for_update: bool = False) -> Promotion | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM promotions WHERE code = $1{lock}", code)
    return None if row is None else to_promotion(row)


async def unretired(conn: Connection) -> list[Promotion]:
    """Every promotion whose Redis keys were not retired (coupon_core.retirement)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM promotions WHERE retired_at IS NULL ORDER BY id"
    )
    return [to_promotion(row) for row in rows]


def _values(p: Promotion) -> tuple[Any, ...]:
    return (
        p.code,
        p.name,
        p.description,
        p.priority,
        p.exclusive,
        p.usage_limit,
        p.coupon_based,
        p.starts_at,
        p.ends_at,
        p.rules,
        p.actions,
        p.channels,
    )


async def insert(conn: Connection, promotion: Promotion) -> Promotion:
    try:
        row = await conn.fetchrow(
            "INSERT INTO promotions (code, name, description, priority, exclusive, usage_limit, "
            "coupon_based, starts_at, ends_at, rules, actions, channels) "
            f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}",
            *_values(promotion),
        )
    except asyncpg.UniqueViolationError:
        raise promotion_code_taken() from None
    assert row is not None
    return to_promotion(row)


async def update(conn: Connection, promotion: Promotion) -> Promotion:
    row = await conn.fetchrow(
        "UPDATE promotions SET name = $2, description = $3, priority = $4, exclusive = $5, "
        "usage_limit = $6, coupon_based = $7, starts_at = $8, ends_at = $9, rules = $10, "
        "actions = $11, channels = $12, updated_at = now(), retired_at = NULL "
        f"WHERE code = $1 RETURNING {COLUMNS}",
        *_values(promotion),
    )
    assert row is not None
    return to_promotion(row)


async def delete(conn: Connection, promotion_id: int) -> None:
    await conn.execute("DELETE FROM promotions WHERE id = $1", promotion_id)


async def page(
    conn: Connection,
    *,
    search: str | None,
    coupon_based: bool | None,
    sort: tuple[str, str],
    limit: int,
    offset: int,
) -> tuple[int, list[Promotion]]:
    where = (
        "($1::text IS NULL OR strpos(lower(code), lower($1)) > 0 "
        "OR strpos(lower(name), lower($1)) > 0) AND ($2::boolean IS NULL OR coupon_based = $2)"
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM promotions WHERE {where}", search, coupon_based
    )
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM promotions WHERE {where} ORDER BY {SORTS[sort]} LIMIT $3 OFFSET $4",
        search,
        coupon_based,
        limit,
        offset,
    )
    return int(total), [to_promotion(row) for row in rows]
