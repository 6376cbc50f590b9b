"""Rebuilding a group's counters from the ledger under its lock (a cold group, or a repair
the reconciler decided on: usecases/reconcile.py)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from coupon_core import redis_keys
from coupon_core.db import Connection
from coupon_core.reconcile import ReconcileMetrics
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from redemption_service.db import ledger, locks
from redemption_service.db.counters import Counters, expected_counters, use_keys
from redemption_service.usecases.judge import OWNERS

# Coupon facts looked up per round trip while a reconcile sorts retired codes out.
FACTS_CHUNK = 10_000
# Counter rows a cold rebuild reads from PostgreSQL (and names, and writes) at a time.
REBUILD_CHUNK = 5_000
UNITS = "groups"


def reconcile_metrics(registry: CollectorRegistry) -> ReconcileMetrics:
    """The reconciler's metrics, and the cold rebuilds redeems waited for."""
    return ReconcileMetrics(registry, service="redemption", units=UNITS, counts_rebuilds=True)


@dataclass(frozen=True, slots=True)
class Published:
    """Which facts of a group its owner has in Redis."""

    group: bool
    coupons: frozenset[str]


async def published(redis: Redis, group: str, codes: Sequence[str]) -> Published | None:
    """Whether ``group``'s facts are in Redis, and which of ``codes`` have theirs; None while
    an owner republishes after a Redis data loss, when absent facts prove nothing."""
    found: list[Any] = []
    async with redis.pipeline(transaction=False) as pipe:
        for owner in OWNERS:
            pipe.exists(redis_keys.facts_ready(owner))
        pipe.exists(redis_keys.group_facts(group))
        found += await pipe.execute()
    for start in range(0, len(codes), FACTS_CHUNK):
        chunk = codes[start : start + FACTS_CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for code in chunk:
                pipe.exists(redis_keys.coupon_facts(group, code))
            found += await pipe.execute()
    if not all(found[: len(OWNERS)]):
        return None
    exists = iter(found[len(OWNERS) + 1 :])
    return Published(
        group=bool(found[len(OWNERS)]),
        coupons=frozenset(code for code in codes if next(exists)),
    )


def retired_keys(group: str, live: Iterable[tuple[str, str]], found: Published | None) -> set[str]:
    """The coupon and coupon-by-customer counters of the ``(code, customer_id)`` uses in
    ``live`` whose coupon's facts are gone (none while the owners republish)."""
    if found is None:
        return set()
    retired: set[str] = set()
    for code, customer_id in live:
        if code not in found.coupons:
            retired.update(use_keys(group, code, customer_id)[:2])
    return retired


async def rebuild_group(
    pool: asyncpg.Pool,
    counters: Counters,
    group: str,
    *,
    force: bool = False,
    stale: Collection[str] = (),
) -> int:
    """Set ``group``'s counters from its ledger under the group's exclusive lock, which waits
    for every redeem between its guard script and its commit; returns the drift repaired.
    Without ``force`` a group another replica already warmed is left alone. ``stale``:
    counters a keyspace SCAN found for the group, deleted unless the ledger backs them.

    Nothing is SCANned: the counters the ledger implies are overwritten by name, and a cold
    group has no others (a cold marker means Redis lost the group, or its owner retired
    it and deleted everything under its hash tag).

    Counters nothing would ever delete are not rebuilt: a group whose owner retired (or
    deleted) it, its facts gone, loses its counters instead, and a reconcile (``force``)
    leaves out the coupon counters of codes whose facts are gone (docs/operations.md,
    "Retention"). The ledger keeps every use: the group's own counters still count them.

    A cold group is rebuilt by :func:`_rebuild_cold` in chunks, however many uses it has."""
    async with pool.acquire() as conn, conn.transaction():
        await locks.lock_exclusive(conn, group)
        if not force:
            if await counters.warm(group):
                return 0
            return await _rebuild_cold(conn, counters, group)
        live = await ledger.live_uses(conn, group)
        codes = sorted({code for code, _, _ in live})
        found = await published(counters.redis, group, codes)
        expected = expected_counters(group, live)
        stale = [k for k in stale if k not in expected]
        if found is not None and not found.group:
            await counters.forget(group, [*expected, *stale])
            return 0
        retired = retired_keys(group, ((c, u) for c, u, _ in live), found)
        kept = {key: value for key, value in expected.items() if key not in retired}
        return await counters.rebuild(group, kept, retired=retired, stale=stale)


async def _rebuild_cold(conn: Connection, counters: Counters, group: str) -> int:
    """Write a cold group's counters as PostgreSQL aggregates them (ledger.counter_values,
    read through a cursor :data:`REBUILD_CHUNK` rows at a time), each chunk one script call
    (Counters.load), then its warm marker: no single Redis command, nor stretch of this
    event loop, handles more than one chunk. A group its owner retired gets no counters
    (only what a rebuild wrote is deleted). Under the caller's exclusive lock of the group;
    returns the drift repaired (each chunk's script compares what it overwrites)."""
    found = await published(counters.redis, group, [])
    values = _named(group, ledger.counter_values(conn, group, chunk=REBUILD_CHUNK))
    if found is not None and not found.group:
        async for chunk in values:
            await counters.forget(group, [name for name, _ in chunk])
        return 0
    return await counters.load(group, values)


async def _named(
    group: str, chunks: AsyncIterable[Sequence[asyncpg.Record]]
) -> AsyncIterator[list[tuple[str, int]]]:
    """The counter names (coupon_core.redis_keys) and values of ledger.counter_values rows."""
    async for rows in chunks:
        named: list[tuple[str, int]] = []
        for kind, code, customer_id, n in rows:
            if not n:
                continue
            if kind == ledger.COUPON_BY_CUSTOMER:
                name = redis_keys.redeemed_coupon_by_customer(group, code, customer_id)
            elif kind == ledger.COUPON:
                name = redis_keys.redeemed_coupon(group, code)
            elif kind == ledger.CUSTOMER:
                name = redis_keys.redeemed_by_customer(group, customer_id)
            else:
                name = redis_keys.redeemed_total(group)
            named.append((name, n))
        yield named
