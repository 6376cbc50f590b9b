"""The reconciler: counters compared with the ledger at a cost proportional to what changed.

Each pass (every ``RECONCILE_INTERVAL_S``) checks the groups with ledger activity since the
pass before (``RECONCILE_MARGIN_S`` earlier, for commits in flight), and in them only the
counters those uses take; and a slice of every group in turn, so that a full sweep covers
them all every ``RECONCILE_FULL_SWEEP_H`` (coupon_core.reconcile runs the passes,
usecases/reconcile.py does the checks; docs/redemption.md, "Reconciler").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

import asyncpg
from aiohttp import web
from coupon_core.db import Connection
from coupon_core.keys import PG_POOL
from coupon_core.reconcile import Checked, PeriodicReconciler, ReconcileMetrics, timing

from redemption_service.db import activity
from redemption_service.db.counters import Counters
from redemption_service.keys import COUNTERS, RECONCILE_METRICS, SETTINGS
from redemption_service.usecases.rebuild import UNITS
from redemption_service.usecases.reconcile import check_group, check_pairs


class Reconciler(PeriodicReconciler[str, Collection[activity.Pair]]):
    """The periodic reconciler of one replica: the groups with ledger activity since its
    last pass (the counters those uses take), plus a slice of the full sweep."""

    units = UNITS

    def __init__(
        self,
        pool: asyncpg.Pool,
        counters: Counters,
        metrics: ReconcileMetrics | None,
        **timing: float,
    ) -> None:
        super().__init__(pool, metrics, **timing)
        self.counters = counters

    async def changed_since(
        self, conn: Connection, since: datetime
    ) -> Mapping[str, Collection[activity.Pair]]:
        return await activity.changed_since(conn, since)

    async def everything(self, conn: Connection) -> Iterable[str]:
        """One skip scan of the ledger's groups, once per full sweep."""
        return await activity.groups(conn)

    async def check_changed(self, item: str, changes: Collection[activity.Pair]) -> Checked:
        return await check_pairs(self.pool, self.counters, item, changes)

    async def check(self, item: str) -> Checked:
        return await check_group(self.pool, self.counters, item)


async def reconcile_periodically(app: web.Application) -> None:
    """The reconciler's background task: a pass every ``RECONCILE_INTERVAL_S``."""
    reconciler = Reconciler(
        app[PG_POOL], app[COUNTERS], app[RECONCILE_METRICS], **timing(app[SETTINGS])
    )
    await reconciler.run()
