"""The reconciler of series counters, at a cost proportional to what changed.

Each pass (every ``RECONCILE_INTERVAL_S``) checks the series that issued coupons since the
pass before (``RECONCILE_MARGIN_S`` earlier), and in them the total and the counters of the
customers issued to; plus a slice of every series, so that each is compared in full once per
``RECONCILE_FULL_SWEEP_H`` (coupon_core.reconcile runs the passes, usecases/reconcile.py
does the checks; docs/issuance.md, "Reconciler").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

import asyncpg
from aiohttp import web
from coupon_core.db import Connection
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.reconcile import Checked, PeriodicReconciler, ReconcileMetrics, timing
from redis.asyncio import Redis

from issuance_service.db import coupons as coupons_db
from issuance_service.db import series as series_db
from issuance_service.db.counters import Scripts
from issuance_service.keys import RECONCILE_METRICS, SCRIPTS, SETTINGS
from issuance_service.usecases.reconcile import ISSUED_AT_RESOLUTION, UNITS, check_series


class Reconciler(PeriodicReconciler[int, Collection[int]]):
    """The periodic reconciler of one replica: the series issued from since its last pass
    (their totals and the counters of the customers issued to), plus a slice of the full
    sweep."""

    units = UNITS
    # issued_at is the issuing replica's clock, in whole seconds: the margin also covers
    # its skew, and the window reaches back one more second.
    resolution = ISSUED_AT_RESOLUTION

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        scripts: Scripts,
        metrics: ReconcileMetrics | None,
        **timing: float,
    ) -> None:
        super().__init__(pool, metrics, **timing)
        self.redis, self.scripts = redis, scripts

    async def changed_since(
        self, conn: Connection, since: datetime
    ) -> Mapping[int, Collection[int]]:
        return await coupons_db.issued_since(conn, since)

    async def everything(self, conn: Connection) -> Iterable[int]:
        return await series_db.all_ids(conn)

    async def check_changed(self, item: int, changes: Collection[int]) -> Checked:
        return await check_series(self.pool, self.redis, self.scripts, item, customers=changes)

    async def check(self, item: int) -> Checked:
        return await check_series(self.pool, self.redis, self.scripts, item)


async def reconcile_periodically(app: web.Application) -> None:
    """The reconciler's background task: a pass every ``RECONCILE_INTERVAL_S``."""
    scripts, metrics = app[SCRIPTS], app[RECONCILE_METRICS]
    reconciler = Reconciler(app[PG_POOL], app[REDIS], scripts, metrics, **timing(app[SETTINGS]))
    await reconciler.run()
