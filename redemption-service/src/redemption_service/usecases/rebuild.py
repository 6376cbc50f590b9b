"""Rebuilding a group's counters from the ledger, and the reconciler that repairs drift."""

from __future__ import annotations

import logging

import asyncpg
from coupon_core import keyspace
from prometheus_client import CollectorRegistry, Counter, Gauge

from redemption_service.counters import Counters, expected_counters
from redemption_service.db import ledger, locks

log = logging.getLogger(__name__)


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


async def rebuild_group(
    pool: asyncpg.Pool, counters: Counters, group: str, *, force: bool = False
) -> int:
    """Set ``group``'s counters from its ledger under the group's exclusive lock, which waits
    for every redeem between its guard script and its commit; returns the drift repaired.
    Without ``force`` a group another replica already warmed is left alone."""
    async with pool.acquire() as conn, conn.transaction():
        await locks.lock_exclusive(conn, group)
        if not force and await counters.redis.exists(keyspace.redemption_warm(group)):
            return 0
        live = await ledger.live_uses(conn, group)
        return await counters.rebuild(group, expected_counters(group, live))


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
