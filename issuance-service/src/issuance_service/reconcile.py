"""The reconciler of series counters, at a cost proportional to what changed.

Each pass (every ``RECONCILE_INTERVAL_S``) checks the series that issued coupons since the
pass before (``RECONCILE_MARGIN_S`` earlier), and in them the total and the counters of the
customers issued to; plus a slice of every series, so that each is compared in full once per
``RECONCILE_FULL_SWEEP_H``. A check reads counters by name (MGET) without the series' lock;
only a difference takes the exclusive lock, re-checks and repairs. Counters no coupon backs
are found by one keyspace SCAN, grouped by hash tag, in the on-demand :func:`reconcile`
(docs/issuance.md, "Reconciler").
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from coupon_core import keyspace
from coupon_core.db import Connection
from coupon_core.sweep import Sweep
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from redis.asyncio import Redis

from issuance_service.counters import REBUILD_BATCH, Scripts, count_drift, expected, read
from issuance_service.db import coupons as coupons_db
from issuance_service.db import series as series_db

log = logging.getLogger(__name__)
# issued_at is stamped in whole seconds (issuing.py) by the issuing replica's clock.
ISSUED_AT_RESOLUTION = timedelta(seconds=1)


class ReconcileMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.drift = Gauge(
            "issuance_counter_drift",
            "Sum of |counter - ledger| over every issuance count at the last reconcile.",
            registry=registry,
        )
        self.repaired = Counter(
            "issuance_counter_drift_repaired",
            "Issuance count units the reconciler set back to what the ledger says.",
            registry=registry,
        )
        self.series_checked = Gauge(
            "issuance_reconcile_series_checked",
            "Series the last reconcile pass compared with their coupons, by why: changed, "
            "sweep, full (an on-demand reconcile).",
            ["kind"],
            registry=registry,
        )
        self.keys_checked = Gauge(
            "issuance_reconcile_keys_checked",
            "Counters the last reconcile pass read and compared.",
            registry=registry,
        )
        self.locked = Counter(
            "issuance_reconcile_locked",
            "Series checks that saw a difference and took the series' exclusive lock.",
            registry=registry,
        )
        self.duration = Histogram(
            "issuance_reconcile_duration_seconds",
            "How long one reconcile pass took.",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
            registry=registry,
        )

    def export(self, results: Iterable[Checked], drift: int, series: dict[str, int]) -> None:
        results = list(results)
        self.drift.set(drift)
        self.repaired.inc(drift)
        for kind in ("changed", "sweep", "full"):
            self.series_checked.labels(kind).set(series.get(kind, 0))
        self.keys_checked.set(sum(r.keys for r in results))
        self.locked.inc(sum(r.locked for r in results))


@dataclass(frozen=True, slots=True)
class Checked:
    drift: int = 0
    keys: int = 0
    locked: bool = False


async def _want(
    conn: Connection, series_id: int, group: str, customers: Collection[int] | None
) -> dict[str, str]:
    if customers is None:
        total, per_customer = await coupons_db.counters(conn, series_id)
    else:
        total, per_customer = await coupons_db.customer_counters(conn, series_id, sorted(customers))
    return expected(group, total, per_customer)


async def check_series(
    pool: asyncpg.Pool,
    redis: Redis,
    scripts: Scripts,
    series_id: int,
    *,
    customers: Collection[int] | None = None,
    stale: Collection[str] = (),
) -> Checked:
    """Compare a warm series' counters (all of them, or the total and ``customers``') and
    ``stale`` (found by a SCAN) with its committed coupons; repair what differs under the
    exclusive lock (no issue is between its take and its commit meanwhile). A cold series is
    left alone: its next issue rebuilds it."""
    group = keyspace.group_ref(keyspace.SERIES, series_id)
    warm = keyspace.issuance_warm(group)
    if not await redis.exists(warm):
        return Checked()
    async with pool.acquire() as conn:
        want = await _want(conn, series_id, group, customers)
    have = await read(redis, [*want, *(n for n in stale if n not in want)])
    if all(have.get(name) == value for name, value in want.items()) and have.keys() <= want.keys():
        return Checked(keys=len(want))
    async with pool.acquire() as conn, conn.transaction():
        await series_db.lock_exclusive(conn, series_id)
        if not await redis.exists(warm):
            return Checked(keys=len(want), locked=True)
        want = await _want(conn, series_id, group, customers)
        have = await read(redis, [*want, *(n for n in stale if n not in want)])
        changed = [(name, value) for name, value in want.items() if have.get(name) != value]
        gone = [name for name in have if name not in want]
        if changed or gone:
            # One epoch for every batch, set by the first: the lock keeps takes out.
            epoch = uuid.uuid4().hex
            for start in range(0, max(len(changed), len(gone)), REBUILD_BATCH):
                sets = changed[start : start + REBUILD_BATCH]
                deletes = gone[start : start + REBUILD_BATCH]
                await scripts["issue_repair"](
                    keys=[warm, *(n for n, _ in sets), *deletes],
                    args=[len(sets), *(v for _, v in sets), epoch],
                )
    return Checked(drift=count_drift(group, want, have), keys=len(want), locked=True)


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
        drift = sum(r.drift for r in results)
        if self.metrics is not None:
            self.metrics.export(results, drift, {"changed": len(changed), "sweep": len(swept)})
            self.metrics.duration.observe(time.perf_counter() - started)
        if drift:
            log.warning("reconcile repaired drift of %d over %d series", drift, len(results))
        return drift


async def _present(redis: Redis) -> dict[int, list[str]]:
    """One SCAN pass over the keyspace (every node of a cluster): the issuance counters of
    every series, by series, warm markers left out."""
    found: dict[int, list[str]] = {}
    async for raw in redis.scan_iter(match="{S:*}:i:*", count=1000):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        ref, _, rest = name[len("{S:") :].partition("}:i:")
        if rest and rest != "warm" and ref.isdigit():
            found.setdefault(int(ref), []).append(name)
    return found


async def reconcile(
    pool: asyncpg.Pool, redis: Redis, scripts: Scripts, metrics: ReconcileMetrics | None
) -> int:
    """Every series at once (``python -m issuance_service reconcile``), counters no coupon
    backs found with one SCAN; the total drift repaired."""
    started = time.perf_counter()
    async with pool.acquire() as conn:
        series_ids = await series_db.all_ids(conn)
    present = await _present(redis)
    results = [
        await check_series(pool, redis, scripts, s, stale=present.get(s, ())) for s in series_ids
    ]
    total = sum(r.drift for r in results)
    if metrics is not None:
        metrics.export(results, total, {"full": len(results)})
        metrics.duration.observe(time.perf_counter() - started)
    if total:
        log.warning("reconcile repaired drift of %d over %d series", total, len(series_ids))
    return total
