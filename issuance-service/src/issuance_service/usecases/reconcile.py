"""Reconciling series counters with the issued coupons, and repairing what differs.

A check reads counters by name (MGET) without the series' lock; only a difference takes the
exclusive lock, re-checks and repairs. The periodic passes (workers/reconciler.py) check
the series issued from since the pass before and a slice of every series; counters no
coupon backs are found by one keyspace SCAN, grouped by hash tag, in the on-demand
:func:`reconcile` (docs/issuance.md, "Reconciler").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection
from datetime import timedelta

import asyncpg
from coupon_core import redis_keys
from coupon_core.db import Connection
from coupon_core.reconcile import Checked, ReconcileMetrics, report
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from issuance_service.db import coupons as coupons_db
from issuance_service.db import series as series_db
from issuance_service.db.counters import REBUILD_BATCH, Scripts, count_drift, expected, read

# issued_at is stamped in whole seconds (usecases/issue.py) by the issuing replica's clock.
ISSUED_AT_RESOLUTION = timedelta(seconds=1)
UNITS = "series"


def reconcile_metrics(registry: CollectorRegistry) -> ReconcileMetrics:
    return ReconcileMetrics(registry, service="issuance", units=UNITS)


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
    group = redis_keys.group_ref(redis_keys.SERIES, series_id)
    warm = redis_keys.issuance_warm(group)
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
    return report(metrics, results, {"full": len(results)}, started=started, units=UNITS)
