"""Bulk insert of generated coupons: COPY, never a loop of single inserts."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from coupon_core.db import Connection

from promotion_service.domain.models import CouponLimits

COPY_COLUMNS = [
    "id",
    "promotion_id",
    "code",
    "usage_limit",
    "per_customer_usage_limit",
    "expires_at",
    "job_id",
]


async def insert_batch(
    conn: Connection,
    *,
    promotion_id: int,
    job_id: int | None,
    codes: Sequence[str],
    limits: CouponLimits,
) -> list[tuple[int, str]]:
    """Insert ``codes`` as coupons sharing ``limits``; the (id, code) pairs inserted.

    Codes were reserved in the code registry first, so a clash in the table is rare (only after
    Redis lost its data): the batch is copied straight into ``coupons``, and only when that
    hits a duplicate is it copied into a staging table and inserted with ON CONFLICT DO
    NOTHING. Call inside a transaction."""
    if not codes:  # a reservation whose random codes were all taken (array_agg of none is NULL)
        return []
    ids = await conn.fetchval(
        "SELECT array_agg(nextval('coupons_id_seq')) FROM generate_series(1, $1)", len(codes)
    )
    records = [
        (
            coupon_id,
            promotion_id,
            code,
            limits.usage_limit,
            limits.per_customer_usage_limit,
            limits.expires_at,
            job_id,
        )
        for coupon_id, code in zip(ids, codes, strict=True)
    ]
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("coupons", records=records, columns=COPY_COLUMNS)
        return [(r[0], r[2]) for r in records]
    except asyncpg.UniqueViolationError:
        pass
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS coupon_stage "
        "(LIKE coupons INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    await conn.execute("TRUNCATE coupon_stage")
    await conn.copy_records_to_table("coupon_stage", records=records, columns=COPY_COLUMNS)
    rows = await conn.fetch(
        "INSERT INTO coupons SELECT * FROM coupon_stage ON CONFLICT (code) DO NOTHING "
        "RETURNING id, code"
    )
    return [(row["id"], row["code"]) for row in rows]
