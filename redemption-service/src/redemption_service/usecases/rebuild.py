"""Rebuilding a group's counters from the ledger, and the reconciler that repairs drift."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from coupon_core import keyspace
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis

from redemption_service.counters import Counters, expected_counters, use_keys
from redemption_service.db import ledger, locks
from redemption_service.usecases.judge import OWNERS

log = logging.getLogger(__name__)
# Coupon facts looked up per round trip while a reconcile sorts retired codes out.
FACTS_CHUNK = 10_000


class ReconcileMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.drift = Gauge(
            "redemption_counter_drift",
            "Sum of |counter - ledger| over every redemption counter at the last reconcile.",
            registry=registry,
        )
        self.repaired = Counter(
            "redemption_counter_drift_repaired",
            "Counter units the reconciler set back to what the ledger says.",
            registry=registry,
        )
        self.rebuilds = Counter(
            "redemption_counter_rebuilds",
            "Cold groups whose counters were rebuilt from the ledger.",
            registry=registry,
        )


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
            pipe.exists(keyspace.facts_ready(owner))
        pipe.exists(keyspace.group_facts(group))
        found += await pipe.execute()
    for start in range(0, len(codes), FACTS_CHUNK):
        chunk = codes[start : start + FACTS_CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for code in chunk:
                pipe.exists(keyspace.coupon_facts(group, code))
            found += await pipe.execute()
    if not all(found[: len(OWNERS)]):
        return None
    exists = iter(found[len(OWNERS) + 1 :])
    return Published(
        group=bool(found[len(OWNERS)]),
        coupons=frozenset(code for code in codes if next(exists)),
    )


async def rebuild_group(
    pool: asyncpg.Pool, counters: Counters, group: str, *, force: bool = False
) -> int:
    """Set ``group``'s counters from its ledger under the group's exclusive lock, which waits
    for every redeem between its guard script and its commit; returns the drift repaired.
    Without ``force`` a group another replica already warmed is left alone.

    Counters nothing would ever delete are not rebuilt: a group whose owner retired (or
    deleted) it, its facts gone, loses its counters instead, and a reconcile (``force``)
    leaves out the coupon counters of codes whose facts are gone (docs/operations.md,
    "Retention"). The ledger keeps every use: the group's own counters still count them."""
    async with pool.acquire() as conn, conn.transaction():
        await locks.lock_exclusive(conn, group)
        if not force and await counters.redis.exists(keyspace.redemption_warm(group)):
            return 0
        live = await ledger.live_uses(conn, group)
        codes = sorted({code for code, _, _ in live}) if force else []
        found = await published(counters.redis, group, codes)
        if found is not None and not found.group:
            await counters.forget(group)
            return 0
        expected = expected_counters(group, live)
        retired: set[str] = set()
        if found is not None and force:
            for code, customer_id, _ in live:
                if code not in found.coupons:
                    retired.update(use_keys(group, code, customer_id)[:2])
        kept = {key: value for key, value in expected.items() if key not in retired}
        return await counters.rebuild(group, kept, retired=retired)


async def reconcile(
    pool: asyncpg.Pool, counters: Counters, metrics: ReconcileMetrics | None
) -> int:
    """Compare every group's counters with the ledger and repair them; the total drift."""
    async with pool.acquire() as conn:
        groups = await ledger.groups(conn)
    total = 0
    for group in groups:
        total += await rebuild_group(pool, counters, group, force=True)
    if metrics is not None:
        metrics.drift.set(total)
        metrics.repaired.inc(total)
    if total:
        log.warning("reconcile repaired drift of %d over %d groups", total, len(groups))
    return total
