"""Retiring the Redis keys of dead coupons and limit groups (SPEC section 9).

An owning service retires a coupon once it has been expired (or its series or promotion
ended) for longer than its grace period, and a group once its end is that far behind it
and none of its coupons is left unretired. Retired keys answer as if they never existed:
a retired code is an unknown code to the redemption service.

A coupon's keys are its facts, its code registry entry (given back only if the group still
owns it, see :func:`coupon_core.code_registry.release`) and the redemption counters that can be
named without the ledger: the coupon's own, and the one of the customer it was issued to.
The redemption service's reconciler drops the coupon-by-customer counters of other
customers, since it keeps no counter of a coupon whose facts are gone. A group's keys are
everything under its hash tag, found with SCAN; they share one slot, so each chunk is one
``UNLINK`` on one node, also on Redis Cluster.

:func:`job` is an owner's ``redis_dead_objects`` retention job (docs/operations.md,
"Retention"), over the tables its :class:`Schema` names (the owner's ``db/retirement.py``).
Coupons go first; a group goes once none of its coupons is left. Each batch is one
transaction that locks its rows (rows another transaction holds are left for the next
batch), deletes their keys and marks them retired, so an edit waiting on a row publishes
its facts after the retirement, not before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.asyncio import Redis

from coupon_core import code_registry, redis_keys
from coupon_core.db import Connection
from coupon_core.retention import Job

# Keys per UNLINK: one command stays short on the server.
CHUNK = 1000


def coupon_keys(group: str, code: str, customer_id: str | None = None) -> list[str]:
    """The keys of one coupon that live under its group's hash tag."""
    keys = [redis_keys.coupon_facts(group, code), redis_keys.redeemed_coupon(group, code)]
    if customer_id is not None:
        keys.append(redis_keys.redeemed_coupon_by_customer(group, code, customer_id))
    return keys


async def retire_coupons(
    redis: Redis, group: str, coupons: Sequence[tuple[str, str | None]]
) -> None:
    """Delete the keys of ``(code, issued-to customer id or None)`` coupons of ``group``."""
    if not coupons:
        return
    keys = [key for code, customer in coupons for key in coupon_keys(group, code, customer)]
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(keys), CHUNK):
            # A cluster pipeline has no queued ``unlink``; the raw command routes by the
            # first key's slot, which every key of the chunk shares.
            pipe.execute_command("UNLINK", *keys[start : start + CHUNK])
        await pipe.execute()
    await code_registry.release(redis, [code for code, _ in coupons], group)


async def retire_group(redis: Redis, group: str) -> int:
    """Delete every key under ``group``'s hash tag (facts, counters, warm markers); the
    number of keys deleted."""
    removed = 0
    chunk: list[bytes | str] = []
    async for key in redis.scan_iter(match=redis_keys.group_all_keys_pattern(group), count=1000):
        chunk.append(key)
        if len(chunk) >= CHUNK:
            removed += int(await redis.unlink(*chunk))
            chunk = []
    if chunk:
        removed += int(await redis.unlink(*chunk))
    return removed


@dataclass(frozen=True, slots=True)
class Groups:
    """An owner's table of groups (series, promotions)."""

    table: str
    ends: str  # the column past which (by the grace period) a group is dead
    ref: str  # the column its group ref is made of (redis_keys.group_ref)


@dataclass(frozen=True, slots=True)
class Coupons:
    """An owner's table of coupons."""

    table: str
    ends: str  # the column past which a coupon is dead, whatever its group's end
    group_id: str  # the column that references its group's ``id``
    customer_id: str | None = None  # the column of the customer it was issued to


@dataclass(frozen=True, slots=True)
class Schema:
    """Where an owner keeps what it retires. Each table has a ``retired_at`` column and a
    partial index of the rows not retired yet by ``ends``; coupons have one by
    ``(group_id, id)`` too.

    The names are constants of the owner's code, checked to be identifiers; the queries
    are built from them, and every value still goes as a ``$n`` parameter."""

    kind: redis_keys.GroupKind
    groups: Groups
    coupons: Coupons

    def __post_init__(self) -> None:
        g, c = self.groups, self.coupons
        names = [g.table, g.ends, g.ref, c.table, c.ends, c.group_id, c.customer_id or "id"]
        if not all(name.isidentifier() for name in names):
            raise ValueError(f"not an identifier among {names}")


@dataclass(frozen=True, slots=True)
class DeadCoupon:
    """A coupon whose keys are due to go: its row, group and code, and the customer it was
    issued to (None for a coupon issued to nobody in particular)."""

    id: int
    group: str
    code: str
    customer_id: str | None


@dataclass(frozen=True, slots=True)
class DeadGroup:
    """A group whose keys are due to go, none of its coupons left."""

    id: int
    group: str


def _coupons_sql(schema: Schema, *, ended: str, order: str) -> str:
    """Unretired coupons of which ``ended`` (``c.<column>`` or ``g.<column>``) is before
    ``$1``, up to ``$2`` in ``order`` (that of a partial index of the unretired), locked."""
    g, c = schema.groups, schema.coupons
    customer = f"c.{c.customer_id}::text" if c.customer_id else "NULL::text"
    return (
        f"SELECT c.id, g.{g.ref}::text AS ref, c.code, {customer} AS customer_id "
        f"FROM {c.table} c JOIN {g.table} g ON g.id = c.{c.group_id} "
        f"WHERE c.retired_at IS NULL AND {ended} < $1 "
        f"ORDER BY {order} LIMIT $2 FOR UPDATE OF c SKIP LOCKED"
    )


async def dead_coupons(
    conn: Connection, schema: Schema, *, cutoff: datetime, limit: int
) -> list[DeadCoupon]:
    """Up to ``limit`` unretired coupons that ended before ``cutoff``, or whose group did."""
    ended = f"c.{schema.coupons.ends}"
    rows = await conn.fetch(_coupons_sql(schema, ended=ended, order=ended), cutoff, limit)
    if len(rows) < limit:
        in_group_order = f"c.{schema.coupons.group_id}, c.id"
        sql = _coupons_sql(schema, ended=f"g.{schema.groups.ends}", order=in_group_order)
        rows += await conn.fetch(sql, cutoff, limit - len(rows))
    return [
        DeadCoupon(
            id=row["id"],
            group=redis_keys.group_ref(schema.kind, row["ref"]),
            code=row["code"],
            customer_id=row["customer_id"],
        )
        for row in rows
    ]


async def dead_groups(
    conn: Connection, schema: Schema, *, cutoff: datetime, limit: int
) -> list[DeadGroup]:
    """Up to ``limit`` unretired groups that ended before ``cutoff`` with every coupon
    retired already, locked."""
    g, c = schema.groups, schema.coupons
    rows = await conn.fetch(
        f"SELECT g.id, g.{g.ref}::text AS ref FROM {g.table} g "
        f"WHERE g.retired_at IS NULL AND g.{g.ends} < $1 AND NOT EXISTS "
        f"(SELECT 1 FROM {c.table} c WHERE c.{c.group_id} = g.id AND c.retired_at IS NULL) "
        f"ORDER BY g.{g.ends} LIMIT $2 FOR UPDATE OF g SKIP LOCKED",
        cutoff,
        limit,
    )
    return [DeadGroup(row["id"], redis_keys.group_ref(schema.kind, row["ref"])) for row in rows]


async def _mark(conn: Connection, table: str, ids: list[int]) -> None:
    await conn.execute(f"UPDATE {table} SET retired_at = now() WHERE id = ANY($1::bigint[])", ids)


async def step(
    pool: asyncpg.Pool, redis: Redis, schema: Schema, *, grace: timedelta, limit: int
) -> int:
    """Retire up to ``limit`` coupons and groups dead for longer than ``grace``; how many
    were retired."""
    cutoff = datetime.now(UTC) - grace
    async with pool.acquire() as conn, conn.transaction():
        coupons = await dead_coupons(conn, schema, cutoff=cutoff, limit=limit)
        by_group: dict[str, list[tuple[str, str | None]]] = {}
        for coupon in coupons:
            by_group.setdefault(coupon.group, []).append((coupon.code, coupon.customer_id))
        for group, members in by_group.items():
            await retire_coupons(redis, group, members)
        await _mark(conn, schema.coupons.table, [c.id for c in coupons])
    if len(coupons) >= limit:
        return len(coupons)
    async with pool.acquire() as conn, conn.transaction():
        groups = await dead_groups(conn, schema, cutoff=cutoff, limit=limit - len(coupons))
        for dead_group in groups:
            await retire_group(redis, dead_group.group)
        await _mark(conn, schema.groups.table, [g.id for g in groups])
    return len(coupons) + len(groups)


async def lag_s(pool: asyncpg.Pool, schema: Schema, *, grace: timedelta) -> float:
    """Seconds the oldest unretired coupon's or group's end is behind the grace period (0
    when none is); each ``min`` is one step down a partial index of the unretired."""
    g, c = schema.groups, schema.coupons
    lag = await pool.fetchval(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM $1::timestamptz - LEAST("
        f"(SELECT min({c.ends}) FROM {c.table} WHERE retired_at IS NULL), "
        f"(SELECT min({g.ends}) FROM {g.table} WHERE retired_at IS NULL))))::float8",
        datetime.now(UTC) - grace,
    )
    return float(lag or 0.0)


def job(pool: asyncpg.Pool, redis: Redis, schema: Schema, *, grace_days: int) -> Job:
    """The ``redis_dead_objects`` retention job: :func:`step` and :func:`lag_s`."""
    grace = timedelta(days=grace_days)

    async def retire(limit: int) -> int:
        return await step(pool, redis, schema, grace=grace, limit=limit)

    async def lag() -> float:
        return await lag_s(pool, schema, grace=grace)

    return Job(name="redis_dead_objects", step=retire, lag=lag)
