"""Finding and marking the promotions and coupons whose Redis keys are retired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coupon_core.db import Connection


@dataclass(frozen=True, slots=True)
class Dead:
    id: int
    promotion_code: str
    code: str  # the coupon's code; the promotion's own for a promotion


async def dead_coupons(conn: Connection, *, cutoff: datetime, limit: int) -> list[Dead]:
    """Up to ``limit`` unretired coupons that expired before ``cutoff`` or whose promotion
    ended before it, locked (rows another transaction holds are left for the next batch)."""
    rows = await conn.fetch(
        "SELECT c.id, p.code AS promotion_code, c.code FROM coupons c "
        "JOIN promotions p ON p.id = c.promotion_id "
        "WHERE c.retired_at IS NULL AND c.expires_at < $1 "
        "ORDER BY c.expires_at LIMIT $2 FOR UPDATE OF c SKIP LOCKED",
        cutoff,
        limit,
    )
    if len(rows) < limit:
        rows += await conn.fetch(
            "SELECT c.id, p.code AS promotion_code, c.code FROM promotions p "
            "JOIN coupons c ON c.promotion_id = p.id AND c.retired_at IS NULL "
            "WHERE p.ends_at < $1 ORDER BY c.promotion_id, c.id LIMIT $2 "
            "FOR UPDATE OF c SKIP LOCKED",
            cutoff,
            limit - len(rows),
        )
    return [Dead(**dict(row)) for row in rows]


async def dead_promotions(conn: Connection, *, cutoff: datetime, limit: int) -> list[Dead]:
    """Up to ``limit`` unretired promotions that ended before ``cutoff`` with every coupon
    retired already, locked."""
    rows = await conn.fetch(
        "SELECT p.id, p.code AS promotion_code, p.code FROM promotions p "
        "WHERE p.retired_at IS NULL AND p.ends_at < $1 AND NOT EXISTS "
        "(SELECT 1 FROM coupons c WHERE c.promotion_id = p.id AND c.retired_at IS NULL) "
        "ORDER BY p.ends_at LIMIT $2 FOR UPDATE OF p SKIP LOCKED",
        cutoff,
        limit,
    )
    return [Dead(**dict(row)) for row in rows]


async def mark_coupons(conn: Connection, ids: list[int]) -> None:
    await conn.execute("UPDATE coupons SET retired_at = now() WHERE id = ANY($1::bigint[])", ids)


async def mark_promotions(conn: Connection, ids: list[int]) -> None:
    await conn.execute("UPDATE promotions SET retired_at = now() WHERE id = ANY($1::bigint[])", ids)


async def lag_s(conn: Connection, *, cutoff: datetime) -> float:
    """Seconds the oldest unretired coupon expiry or promotion end is behind ``cutoff`` (0
    when none is); each ``min`` is one step down a partial index of the unretired."""
    lag = await conn.fetchval(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM $1::timestamptz - LEAST("
        "(SELECT min(expires_at) FROM coupons WHERE retired_at IS NULL), "
        "(SELECT min(ends_at) FROM promotions WHERE retired_at IS NULL))))::float8",
        cutoff,
    )
    return float(lag or 0.0)
