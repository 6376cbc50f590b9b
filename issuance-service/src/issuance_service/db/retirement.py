"""Finding and marking the series and issued coupons whose Redis keys are retired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coupon_core.db import Connection


@dataclass(frozen=True, slots=True)
class DeadCoupon:
    id: int
    series_id: int
    code: str
    customer_id: int


async def dead_coupons(conn: Connection, *, cutoff: datetime, limit: int) -> list[DeadCoupon]:
    """Up to ``limit`` unretired coupons valid till before ``cutoff`` or of a series valid
    till before it, locked (rows another transaction holds are left for the next batch)."""
    rows = await conn.fetch(
        "SELECT id, series_id, code, customer_id FROM issued_coupons "
        "WHERE retired_at IS NULL AND valid_till < $1 "
        "ORDER BY valid_till LIMIT $2 FOR UPDATE SKIP LOCKED",
        cutoff,
        limit,
    )
    if len(rows) < limit:
        rows += await conn.fetch(
            "SELECT c.id, c.series_id, c.code, c.customer_id FROM series s "
            "JOIN issued_coupons c ON c.series_id = s.id AND c.retired_at IS NULL "
            "WHERE s.valid_till_date < $1 ORDER BY c.series_id, c.id LIMIT $2 "
            "FOR UPDATE OF c SKIP LOCKED",
            cutoff,
            limit - len(rows),
        )
    return [DeadCoupon(**dict(row)) for row in rows]


async def dead_series(conn: Connection, *, cutoff: datetime, limit: int) -> list[int]:
    """Ids of up to ``limit`` unretired series valid till before ``cutoff`` with every
    coupon retired already, locked."""
    rows = await conn.fetch(
        "SELECT s.id FROM series s "
        "WHERE s.retired_at IS NULL AND s.valid_till_date < $1 AND NOT EXISTS "
        "(SELECT 1 FROM issued_coupons c WHERE c.series_id = s.id AND c.retired_at IS NULL) "
        "ORDER BY s.valid_till_date LIMIT $2 FOR UPDATE OF s SKIP LOCKED",
        cutoff,
        limit,
    )
    return [row["id"] for row in rows]


async def mark_coupons(conn: Connection, ids: list[int]) -> None:
    await conn.execute(
        "UPDATE issued_coupons SET retired_at = now() WHERE id = ANY($1::bigint[])", ids
    )


async def mark_series(conn: Connection, ids: list[int]) -> None:
    await conn.execute("UPDATE series SET retired_at = now() WHERE id = ANY($1::bigint[])", ids)


async def lag_s(conn: Connection, *, cutoff: datetime) -> float:
    """Seconds the oldest unretired coupon or series validity is behind ``cutoff`` (0 when
    none is); each ``min`` is one step down a partial index of the unretired."""
    lag = await conn.fetchval(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM $1::timestamptz - LEAST("
        "(SELECT min(valid_till) FROM issued_coupons WHERE retired_at IS NULL), "
        "(SELECT min(valid_till_date) FROM series WHERE retired_at IS NULL))))::float8",
        cutoff,
    )
    return float(lag or 0.0)
