"""The reconciler: counters compared with the ledger at a cost proportional to what changed.

Each pass (every ``RECONCILE_INTERVAL_S``) checks the groups with ledger activity since the
pass before (``RECONCILE_MARGIN_S`` earlier, for commits in flight), and in them only the
counters those uses take; and a slice of every group in turn, so that a full sweep covers
them all every ``RECONCILE_FULL_SWEEP_H``. A check reads the counters by name (MGET) without
the group's lock; only a difference takes the exclusive lock, which re-checks and repairs
(a redeem in flight makes an unlocked read differ for a moment: the locked one decides).
Counters with no use in the ledger at all are found by one keyspace SCAN, grouped by hash
tag, in the on-demand :func:`reconcile` (docs/redemption.md, "Reconciler").
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

import asyncpg
from coupon_core.reconcile import Checked, ReconcileMetrics, report
from coupon_core.sweep import Sweep

from redemption_service.counters import Counters, expected_counters
from redemption_service.db import activity, ledger, locks
from redemption_service.usecases.rebuild import UNITS, published, rebuild_group, retired_keys


def _differs(want: dict[str, int], have: dict[str, int], retired: Collection[str]) -> bool:
    return any(have.get(k, 0) != v for k, v in want.items() if k not in retired) or any(
        have.get(k) for k in retired
    )


async def check_pairs(
    pool: asyncpg.Pool, counters: Counters, group: str, pairs: Collection[activity.Pair]
) -> Checked:
    """Compare the counters uses of ``pairs`` take in ``group`` (the group's total, and each
    pair's coupon, customer and coupon-by-customer counters) with the ledger; repair them
    under the group's lock if they differ. A cold group is left to its next redeem."""
    if not await counters.warm(group):
        return Checked()
    codes = sorted({code for code, _ in pairs})
    async with pool.acquire() as conn:
        want = await activity.scoped_counters(conn, group, pairs)
    found = await published(counters.redis, group, codes)
    retired = retired_keys(group, pairs, found)
    have = await counters.read(list(want))
    gone = found is not None and not found.group
    if not gone and not _differs(want, have, retired):
        return Checked(keys=len(want))
    async with pool.acquire() as conn, conn.transaction():
        await locks.lock_exclusive(conn, group)
        if not await counters.warm(group):
            return Checked(keys=len(want), locked=True)
        want = await activity.scoped_counters(conn, group, pairs)
        found = await published(counters.redis, group, codes)
        if found is not None and not found.group:
            await counters.forget(group, want)
            return Checked(keys=len(want), locked=True)
        retired = retired_keys(group, pairs, found)
        kept = {k: v for k, v in want.items() if k not in retired}
        drift = await counters.rebuild(group, kept, retired=retired)
    return Checked(drift=drift, keys=len(want), locked=True)


async def check_group(
    pool: asyncpg.Pool, counters: Counters, group: str, stale: Collection[str] = ()
) -> Checked:
    """Compare every counter of ``group`` the ledger implies (and ``stale``, found by a
    SCAN) with the ledger; rebuild the group under its lock if anything differs."""
    warm = await counters.warm(group)
    if not warm and not stale:
        return Checked()
    async with pool.acquire() as conn:
        live = await ledger.live_uses(conn, group)
    want = expected_counters(group, live)
    stale = [k for k in stale if k not in want]
    found = await published(counters.redis, group, sorted({code for code, _, _ in live}))
    retired = retired_keys(group, ((code, customer) for code, customer, _ in live), found)
    have = await counters.read([*want, *stale])
    gone = found is not None and not found.group
    if warm and not gone and not stale and not _differs(want, have, retired):
        return Checked(keys=len(want))
    drift = await rebuild_group(pool, counters, group, force=True, stale=stale)
    return Checked(drift=drift, keys=len(want) + len(stale), locked=True)


class Reconciler:
    """The periodic reconciler of one replica: what changed since its last pass, plus a
    slice of the full sweep."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        counters: Counters,
        metrics: ReconcileMetrics | None,
        *,
        interval_s: float,
        full_sweep_h: float,
        margin_s: float,
    ) -> None:
        self.pool = pool
        self.counters = counters
        self.metrics = metrics
        self.interval_s = interval_s
        self.margin = timedelta(seconds=margin_s)
        self.since: datetime | None = None
        self.sweep: Sweep[str] = Sweep(interval_s=interval_s, period_s=full_sweep_h * 3600)

    async def run_pass(self) -> int:
        """One pass; the drift it repaired."""
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            now = await activity.clock(conn)
            since = self.since or now - self.margin - timedelta(seconds=self.interval_s)
            changed = await activity.changed_since(conn, since)
            if self.sweep.exhausted:
                # A new sweep: one skip scan of the ledger's groups, once per full sweep.
                self.sweep.restart(await activity.groups(conn))
        swept = self.sweep.take()
        results = [await check_pairs(self.pool, self.counters, g, p) for g, p in changed.items()]
        results += [await check_group(self.pool, self.counters, g) for g in swept]
        self.since = now - self.margin
        checked = {"changed": len(changed), "sweep": len(swept)}
        return report(self.metrics, results, checked, started=started, units=UNITS)


async def reconcile(
    pool: asyncpg.Pool, counters: Counters, metrics: ReconcileMetrics | None
) -> int:
    """Every group at once (``couponctl reconcile``, ``python -m redemption_service
    reconcile``): each group with live uses, and every group one SCAN pass over the
    keyspace finds counters of, compared with the ledger; the total drift repaired."""
    started = time.perf_counter()
    async with pool.acquire() as conn:
        groups = await activity.groups(conn)
    present: dict[str, list[str]] = {}
    async for batch in counters.scan_by_group():
        for group, names in batch.items():
            present.setdefault(group, []).extend(names)
    results = []
    for group in sorted({*groups, *present}):
        found = present.get(group, [])
        if group not in groups and not found:
            continue
        warmed = Checked()
        if group in groups and not await counters.warm(group):
            # Asked for (after Redis lost its data, say): cold groups are warmed now, so no
            # redeem waits for their rebuild; the periodic passes leave them to it.
            warmed = Checked(drift=await rebuild_group(pool, counters, group), locked=True)
        checked = await check_group(pool, counters, group, stale=found)
        results.append(
            replace(
                checked, drift=checked.drift + warmed.drift, locked=checked.locked or warmed.locked
            )
        )
    return report(metrics, results, {"full": len(results)}, started=started, units=UNITS)
