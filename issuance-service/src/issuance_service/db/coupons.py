"""Issued coupons in PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from coupon_core import events
from coupon_core.db import Connection, delta_columns

from issuance_service.domain.models import CustomerCounter, IssuedCoupon

_COLUMNS = "id, series_id, customer_id, code, valid_till, issued_at, redemption_count"


class CodeTaken(Exception):
    """A generated code already exists in this service's table."""


def _coupon(row: asyncpg.Record) -> IssuedCoupon:
    return IssuedCoupon(**dict(row))


# The coupons and their ``coupon.issued`` outbox events in one statement (one round trip);
# the events' payload is built from the inserted rows, in coupon order, followed by the
# issue's limit.reached event when it has one ($10, else NULL).
_INSERT_WITH_EVENTS = (
    "WITH c AS (INSERT INTO issued_coupons (series_id, customer_id, code, valid_till, issued_at) "
    "SELECT $1, $2, code, $4, $5 FROM unnest($3::text[]) WITH ORDINALITY AS c(code, n) "
    f"ORDER BY n RETURNING {_COLUMNS}), "
    "e AS (INSERT INTO outbox (stream, event_type, payload) "
    "SELECT $6, e.event_type, e.payload FROM ("
    "SELECT 0 AS part, id AS n, $7::text AS event_type, jsonb_build_object('code', code, "
    "'group', $8::text, 'couponId', id, 'customerId', customer_id::text, "
    "'issuedAt', $9::text) AS payload FROM c "
    f"UNION ALL SELECT 1, 0, '{events.LIMIT_REACHED}', $10::jsonb WHERE $10::jsonb IS NOT NULL"
    ") AS e ORDER BY e.part, e.n) "
    "SELECT * FROM c"
)


async def insert_with_events(
    conn: Connection,
    *,
    series_id: int,
    group: str,
    customer_id: int,
    codes: Sequence[str],
    valid_till: datetime,
    issued_at: datetime,
    stream: str,
    event_type: str,
    limit_reached: dict[str, Any] | None = None,
) -> list[IssuedCoupon]:
    """Insert the coupons and record an event per coupon (``code``, ``group``, ``couponId``,
    ``customerId``, ``issuedAt``) and the ``limit_reached`` payload (the issue took the
    series' last units) in the same statement."""
    try:
        rows = await conn.fetch(
            _INSERT_WITH_EVENTS,
            series_id,
            customer_id,
            list(codes),
            valid_till,
            issued_at,
            stream,
            event_type,
            group,
            issued_at.isoformat(),
            limit_reached,
        )
    except asyncpg.UniqueViolationError:
        raise CodeTaken from None
    return sorted((_coupon(row) for row in rows), key=lambda c: c.id)


async def for_customer(conn: Connection, customer_id: int, *, limit: int) -> list[IssuedCoupon]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM issued_coupons WHERE customer_id = $1 ORDER BY id LIMIT $2",
        customer_id,
        limit,
    )
    return [_coupon(row) for row in rows]


async def counters(conn: Connection, series_id: int) -> tuple[int, list[CustomerCounter]]:
    """Committed issues of a series: the total and each customer's count and latest issue."""
    rows = await conn.fetch(
        "SELECT customer_id, count(*) AS issued, max(issued_at) AS last_issued_at "
        "FROM issued_coupons WHERE series_id = $1 GROUP BY customer_id",
        series_id,
    )
    per_customer = [CustomerCounter(**dict(row)) for row in rows]
    return sum(c.issued for c in per_customer), per_customer


async def customer_counters(
    conn: Connection, series_id: int, customer_ids: Sequence[int]
) -> tuple[int, list[CustomerCounter]]:
    """The series' total and the counts of ``customer_ids`` only (index-only reads of
    ``issued_coupons_series_customer``)."""
    total = await conn.fetchval(
        "SELECT count(*) FROM issued_coupons WHERE series_id = $1", series_id
    )
    rows = await conn.fetch(
        "SELECT customer_id, count(*) AS issued, max(issued_at) AS last_issued_at "
        "FROM issued_coupons WHERE series_id = $1 AND customer_id = ANY($2::bigint[]) "
        "GROUP BY customer_id",
        series_id,
        list(customer_ids),
    )
    return int(total), [CustomerCounter(**dict(row)) for row in rows]


async def issued_since(conn: Connection, since: datetime) -> dict[int, set[int]]:
    """The customers of each series issued a coupon at or after ``since`` (BRIN index)."""
    changed: dict[int, set[int]] = {}
    for row in await conn.fetch(
        "SELECT DISTINCT series_id, customer_id FROM issued_coupons WHERE issued_at >= $1",
        since,
    ):
        changed.setdefault(row["series_id"], set()).add(row["customer_id"])
    return changed


async def iterate(conn: Connection, *, batch: int) -> AsyncIterator[list[IssuedCoupon]]:
    """Every coupon whose Redis keys were not retired, ``batch`` at a time."""
    after = 0
    while True:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM issued_coupons WHERE id > $1 AND retired_at IS NULL "
            "ORDER BY id LIMIT $2",
            after,
            batch,
        )
        if not rows:
            return
        yield [_coupon(row) for row in rows]
        after = rows[-1]["id"]


async def of_series(
    conn: Connection, series_id: int, *, after: int, limit: int
) -> list[IssuedCoupon]:
    """The series' coupons whose Redis keys were not retired, in id order after ``after``."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM issued_coupons WHERE series_id = $1 AND id > $2 "
        "AND retired_at IS NULL ORDER BY id LIMIT $3",
        series_id,
        after,
        limit,
    )
    return [_coupon(row) for row in rows]


async def add_redemptions(conn: Connection, deltas: dict[tuple[str, str], int]) -> None:
    """Counts redemptions (+) and reversals (-) of our coupons, ``{(series id, code): sum}``,
    on each coupon and on its series, in one statement; a code that is not one of the
    series' coupons counts nowhere."""
    if not deltas:
        return
    await conn.execute(
        "WITH d AS (SELECT * FROM unnest($1::text[]::bigint[], $2::text[], $3::int[]) "
        "AS d(series_id, code, delta)), "
        "c AS (UPDATE issued_coupons ic "
        "SET redemption_count = greatest(ic.redemption_count + d.delta, 0) FROM d "
        "WHERE ic.series_id = d.series_id AND ic.code = d.code RETURNING ic.series_id, d.delta), "
        "s AS (SELECT series_id, sum(delta) AS delta FROM c GROUP BY series_id) "
        "UPDATE series SET num_redeemed = greatest(num_redeemed + s.delta, 0) FROM s "
        "WHERE series.id = s.series_id",
        *delta_columns(deltas),
    )
