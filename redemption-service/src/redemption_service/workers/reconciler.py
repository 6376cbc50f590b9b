"""The reconciler: counters compared with the ledger at a cost proportional to what changed.

Each pass (every ``RECONCILE_INTERVAL_S``) checks the groups with ledger activity since the
pass before (``RECONCILE_MARGIN_S`` earlier, for commits in flight), and in them only the
counters those uses take; and a slice of every group in turn, so that a full sweep covers
them all every ``RECONCILE_FULL_SWEEP_H`` (usecases/reconcile.py does the checks;
docs/redemption.md, "Reconciler").
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import asyncpg
from aiohttp import web
from coupon_core.keys import PG_POOL
from coupon_core.lifecycle import every
from coupon_core.reconcile import ReconcileMetrics, report
from coupon_core.sweep import Sweep

from redemption_service.db import activity
from redemption_service.db.counters import Counters
from redemption_service.keys import COUNTERS, RECONCILE_METRICS, SETTINGS
from redemption_service.usecases.rebuild import UNITS
from redemption_service.usecases.reconcile import check_group, check_pairs


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


async def reconcile_periodically(app: web.Application) -> None:
    """The reconciler's background task: a pass every ``RECONCILE_INTERVAL_S``."""
    settings = app[SETTINGS]
    reconciler = Reconciler(
        app[PG_POOL],
        app[COUNTERS],
        app[RECONCILE_METRICS],
        interval_s=settings.reconcile_interval_s,
        full_sweep_h=settings.reconcile_full_sweep_h,
        margin_s=settings.reconcile_margin_s,
    )
    await every(settings.reconcile_interval_s, "reconcile", reconciler.run_pass)
