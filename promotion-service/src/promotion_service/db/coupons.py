"""The coupons table."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from coupon_core.db import Connection, delta_columns

from promotion_service.domain.errors import coupon_code_taken
from promotion_service.domain.models import Coupon, CouponLimits

COLUMNS = (
    "c.id, p.code AS promotion_code, c.code, c.usage_limit, c.per_customer_usage_limit, "
    "c.expires_at, c.used, c.created_at, c.updated_at"
)
FROM = "coupons c JOIN promotions p ON p.id = c.promotion_id"
# The same, over a CTE ``c`` holding the rows a data-modifying statement returned.
CTE_FROM = "c JOIN promotions p ON p.id = c.promotion_id"
SORTS = {
    ("code", "asc"): "c.code ASC",
    ("code", "desc"): "c.code DESC",
    ("usageLimit", "asc"): "c.usage_limit ASC NULLS FIRST, c.id ASC",
    ("usageLimit", "desc"): "c.usage_limit DESC NULLS LAST, c.id DESC",
    ("expiresAt", "asc"): "c.expires_at ASC NULLS FIRST, c.id ASC",
    ("expiresAt", "desc"): "c.expires_at DESC NULLS LAST, c.id DESC",
    ("id", "asc"): "c.id ASC",
}


def to_coupon(row: asyncpg.Record) -> Coupon:
    return Coupon(**dict(row))


async def get(
    conn: Connection, promotion_id: int, code: str, *, for_update: bool = False
) -> Coupon | None:
    lock = " FOR UPDATE OF c" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM {FROM} WHERE c.promotion_id = $1 AND c.code = $2{lock}",
        promotion_id,
        code,
    )
    return None if row is None else to_coupon(row)


async def insert(conn: Connection, promotion_id: int, code: str, limits: CouponLimits) -> Coupon:
    try:
        row = await conn.fetchrow(
            "WITH c AS (INSERT INTO coupons (promotion_id, code, usage_limit, "
            "per_customer_usage_limit, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING *) "
            f"SELECT {COLUMNS} FROM {CTE_FROM}",
            promotion_id,
            code,
            limits.usage_limit,
            limits.per_customer_usage_limit,
            limits.expires_at,
        )
    except asyncpg.UniqueViolationError:
        raise coupon_code_taken() from None
    assert row is not None
    return to_coupon(row)


async def update(conn: Connection, coupon_id: int, limits: CouponLimits) -> Coupon:
    row = await conn.fetchrow(
        "WITH c AS (UPDATE coupons SET usage_limit = $2, per_customer_usage_limit = $3, "
        "expires_at = $4, updated_at = now(), retired_at = NULL WHERE id = $1 RETURNING *) "
        f"SELECT {COLUMNS} FROM {CTE_FROM}",
        coupon_id,
        limits.usage_limit,
        limits.per_customer_usage_limit,
        limits.expires_at,
    )
    assert row is not None
    return to_coupon(row)


async def delete(conn: Connection, coupon_id: int) -> None:
    await conn.execute("DELETE FROM coupons WHERE id = $1", coupon_id)


async def count(conn: Connection, promotion_id: int) -> int:
    total = await conn.fetchval(
        "SELECT count(*) FROM coupons WHERE promotion_id = $1", promotion_id
    )
    return int(total)


async def page(
    conn: Connection, promotion_id: int, *, sort: tuple[str, str], limit: int, offset: int
) -> tuple[int, list[Coupon]]:
    total = await count(conn, promotion_id)
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {FROM} WHERE c.promotion_id = $1 ORDER BY {SORTS[sort]} "
        "LIMIT $2 OFFSET $3",
        promotion_id,
        limit,
        offset,
    )
    return total, [to_coupon(row) for row in rows]


async def add_used(conn: Connection, deltas: dict[tuple[str, str], int]) -> None:
    """``used`` of promotions and of their coupons (those that still exist), from
    ``{(promotion code, coupon code): sum of uses}``, in one statement."""
    if not deltas:
        return
    await conn.execute(
        "WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) "
        "AS d(promotion_code, code, delta)), "
        "pt AS (SELECT promotion_code, sum(delta) AS delta FROM d GROUP BY promotion_code), "
        "p AS (UPDATE promotions SET used = GREATEST(used + pt.delta, 0) FROM pt "
        "WHERE promotions.code = pt.promotion_code RETURNING promotions.id, promotions.code) "
        "UPDATE coupons c SET used = GREATEST(c.used + d.delta, 0) FROM p, d "
        "WHERE d.promotion_code = p.code AND c.promotion_id = p.id AND c.code = d.code",
        *delta_columns(deltas),
    )


async def batches(
    conn: Connection,
    *,
    batch_size: int,
    promotion_id: int | None = None,
    job_id: int | None = None,
    unretired: bool = False,
) -> AsyncIterator[list[Coupon]]:
    """Every coupon (of a promotion, of a job; with ``unretired`` only those whose Redis keys
    were not retired), in id order, ``batch_size`` at a time, through a server-side cursor:
    memory stays constant. Call inside a transaction."""
    cursor = await conn.cursor(
        f"SELECT {COLUMNS} FROM {FROM} WHERE ($1::bigint IS NULL OR c.promotion_id = $1) "
        "AND ($2::bigint IS NULL OR c.job_id = $2) AND NOT ($3 AND c.retired_at IS NOT NULL) "
        "ORDER BY c.id",
        promotion_id,
        job_id,
        unretired,
    )
    while True:
        rows = await cursor.fetch(batch_size)
        if not rows:
            return
        yield [to_coupon(row) for row in rows]


async def delete_batch(conn: Connection, promotion_id: int, batch_size: int) -> list[str]:
    """Delete up to ``batch_size`` coupons of a promotion; their codes."""
    rows = await conn.fetch(
        "DELETE FROM coupons WHERE id IN (SELECT id FROM coupons WHERE promotion_id = $1 "
        "LIMIT $2) RETURNING code",
        promotion_id,
        batch_size,
    )
    return [row["code"] for row in rows]
