"""The reconciler of series counters, at a cost proportional to what changed.

Each pass (every ``RECONCILE_INTERVAL_S``) checks the series that issued coupons since the
pass before (``RECONCILE_MARGIN_S`` earlier), and in them the total and the counters of the
customers issued to; plus a slice of every series, so that each is compared in full once per
``RECONCILE_FULL_SWEEP_H`` (usecases/reconcile.py does the checks; docs/issuance.md,
"Reconciler").
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import asyncpg
from aiohttp import web
from coupon_core.keys import PG_POOL, REDIS
from coupon_core.lifecycle import every
from coupon_core.reconcile import ReconcileMetrics, report
from coupon_core.sweep import Sweep
from redis.asyncio import Redis

from issuance_service.db import coupons as coupons_db
from issuance_service.db import series as series_db
from issuance_service.db.counters import Scripts
from issuance_service.keys import RECONCILE_METRICS, SCRIPTS, SETTINGS
from issuance_service.usecases.reconcile import ISSUED_AT_RESOLUTION, UNITS, check_series


class Reconciler:
    """The periodic reconciler of one replica: the series issued from since its last pass,
    plus a slice of the full sweep."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: Redis,
        scripts: Scripts,
        metrics: ReconcileMetrics | None,
        *,
        interval_s: float,
        full_sweep_h: float,
        margin_s: float,
    ) -> None:
        self.pool, self.redis, self.scripts, self.metrics = pool, redis, scripts, metrics
        self.interval = timedelta(seconds=interval_s)
        self.margin = timedelta(seconds=margin_s)
        self.since: datetime | None = None
        self.sweep: Sweep[int] = Sweep(interval_s=interval_s, period_s=full_sweep_h * 3600)

    async def run_pass(self) -> int:
        """One pass; the drift it repaired."""
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            now: datetime = await conn.fetchval("SELECT clock_timestamp()")
            # issued_at is the issuing replica's clock: the margin also covers its skew.
            since = self.since or now - self.margin - ISSUED_AT_RESOLUTION - self.interval
            changed = await coupons_db.issued_since(conn, since)
            if self.sweep.exhausted:
                self.sweep.restart(await series_db.all_ids(conn))
        swept = self.sweep.take()
        results = [
            await check_series(self.pool, self.redis, self.scripts, s, customers=customers)
            for s, customers in changed.items()
        ]
        results += [await check_series(self.pool, self.redis, self.scripts, s) for s in swept]
        self.since = now - self.margin - ISSUED_AT_RESOLUTION
        checked = {"changed": len(changed), "sweep": len(swept)}
        return report(self.metrics, results, checked, started=started, units=UNITS)


async def reconcile_periodically(app: web.Application) -> None:
    """The reconciler's background task: a pass every ``RECONCILE_INTERVAL_S``."""
    settings = app[SETTINGS]
    reconciler = Reconciler(
        app[PG_POOL],
        app[REDIS],
        app[SCRIPTS],
        app[RECONCILE_METRICS],
        interval_s=settings.reconcile_interval_s,
        full_sweep_h=settings.reconcile_full_sweep_h,
        margin_s=settings.reconcile_margin_s,
    )
    await every(settings.reconcile_interval_s, "reconcile", reconciler.run_pass)
