"""Coupon series in PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
from coupon_core.db import Connection

from issuance_service.domain.models import SERIES_SETTINGS, Series

# numIssued is counted, not stored: a counter row updated by every issue would serialise all
# issues of a series on its row lock.
_NUM_ISSUED = "(SELECT count(*) FROM issued_coupons c WHERE c.series_id = series.id) AS num_issued"
_COLUMNS = ", ".join(
    ("id", *SERIES_SETTINGS, _NUM_ISSUED, "num_redeemed", "created_at", "updated_at")
)
# For the issue path, which must not count a series' coupons on every issue.
_UNCOUNTED = _COLUMNS.replace(_NUM_ISSUED, "NULL::bigint AS num_issued")
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(SERIES_SETTINGS) + 1))
_ASSIGNMENTS = ", ".join(f"{name} = ${i}" for i, name in enumerate(SERIES_SETTINGS, start=2))
# Issue and rebuild of one series serialise on this advisory lock namespace.
LOCK_NAMESPACE = 72_415


def _series(row: asyncpg.Record) -> Series:
    return Series(**dict(row))


async def insert(conn: Connection, settings: dict[str, Any]) -> Series:
    row = await conn.fetchrow(
        f"INSERT INTO series ({', '.join(SERIES_SETTINGS)}) VALUES ({_PLACEHOLDERS}) "
        f"RETURNING {_COLUMNS}",
        *(settings[name] for name in SERIES_SETTINGS),
    )
    assert row is not None
    return _series(row)


async def update(conn: Connection, series_id: int, settings: dict[str, Any]) -> Series | None:
    row = await conn.fetchrow(
        f"UPDATE series SET {_ASSIGNMENTS}, updated_at = now(), retired_at = NULL WHERE id = $1 "
        f"RETURNING {_COLUMNS}",
        series_id,
        *(settings[name] for name in SERIES_SETTINGS),
    )
    return _series(row) if row else None


async def get(conn: Connection, series_id: int, *, counted: bool = True) -> Series | None:
    """``counted=False`` leaves ``num_issued`` None (no count of the series' coupons)."""
    columns = _COLUMNS if counted else _UNCOUNTED
    row = await conn.fetchrow(f"SELECT {columns} FROM series WHERE id = $1", series_id)
    return _series(row) if row else None


async def list_page(
    conn: Connection, *, after: int, limit: int, counted: bool = True, unretired: bool = False
) -> list[Series]:
    """A page of series; with ``unretired`` only those whose Redis keys were not retired."""
    columns = _COLUMNS if counted else _UNCOUNTED
    rows = await conn.fetch(
        f"SELECT {columns} FROM series WHERE id > $1 AND NOT ($3 AND retired_at IS NOT NULL) "
        "ORDER BY id LIMIT $2",
        after,
        limit,
        unretired,
    )
    return [_series(row) for row in rows]


def begin_shared_sql(series_id: int) -> str:
    """``BEGIN`` and the series' transaction-level shared lock as one simple query (one round
    trip); only integers are interpolated. Held by every issue from taking the counters until
    its rows are committed, or until what it took is given back and the transaction rolled
    back."""
    return f"BEGIN; SELECT pg_advisory_xact_lock_shared({LOCK_NAMESPACE}, {int(series_id)})"


async def all_ids(conn: Connection) -> list[int]:
    return [row["id"] for row in await conn.fetch("SELECT id FROM series ORDER BY id")]


async def lock_exclusive(conn: Connection, series_id: int) -> None:
    """Held by a counter rebuild: no issue is between its take and its commit meanwhile."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCK_NAMESPACE, series_id)
