"""Reconciling: counters compared with the ledger, and repaired where they differ.

A check reads the counters by name (MGET) without the group's lock; only a difference takes
the exclusive lock, which re-checks and repairs (a redeem in flight makes an unlocked read
differ for a moment: the locked one decides). The periodic passes
(workers/reconciler.py) check the counters that what changed takes (:func:`check_pairs`) and
a slice of every group (:func:`check_group`); counters with no use in the ledger at all are
found by one keyspace SCAN, grouped by hash tag, in the on-demand :func:`reconcile`
(docs/redemption.md, "Reconciler").
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import replace

import asyncpg
from coupon_core.reconcile import Checked, ReconcileMetrics, report

from redemption_service.db import activity, ledger, locks
from redemption_service.db.counters import Counters, expected_counters
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
