"""Series issuance counters in Redis: taken atomically per issue, rebuilt from PostgreSQL,
and repaired by the reconciler when they drift from it.

See docs/issuance.md ("Limits and counters") for why this is safe across replicas and
against Redis losing its data.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from coupon_core import keyspace
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from issuance_service.db import coupons as coupons_db
from issuance_service.db import series as series_db
from issuance_service.domain import rules
from issuance_service.domain.errors import limit_exceeded
from issuance_service.domain.models import CustomerCounter, Series

log = logging.getLogger(__name__)

TAKEN, COLD, MAX_CREATE, MAX_PER_USER, MIN_GAP = 0, 1, 2, 3, 4
REBUILD_BATCH = 500

Scripts = dict[str, AsyncScript]


@dataclass(frozen=True, slots=True)
class Taken:
    """What one issue took, so that it can be given back."""

    keys: list[str]
    count: int
    stamp: str
    previous_last: str
    epoch: str  # of the counters taken from: a give-back lands on those only


def _keys(group: str, customer_id: int) -> list[str]:
    customer = str(customer_id)
    return [
        keyspace.issuance_warm(group),
        keyspace.issued_total(group),
        keyspace.issued_to_customer(group, customer),
        keyspace.last_issued_to_customer(group, customer),
    ]


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def take(
    scripts: Scripts, *, series: Series, customer_id: int, count: int, now: datetime
) -> Taken | None:
    """Take ``count`` issues for ``customer_id``; None when the counters are cold.
    Raises the 722 domain error naming the limit that would be exceeded."""
    keys = _keys(series.group, customer_id)
    stamp = str(int(now.timestamp()))
    args: list[str | int] = [
        count,
        series.max_create,
        series.max_vouchers_per_user,
        rules.min_seconds_between_issues(series),
        stamp,
    ]
    status, previous, *epoch = await scripts["issue_take"](keys=keys, args=args)
    status = int(status)
    if status == TAKEN:
        return Taken(
            keys=keys,
            count=count,
            stamp=stamp,
            previous_last=_text(previous),
            epoch=_text(epoch[0]) if epoch else "",
        )
    if status == COLD:
        return None
    if status == MAX_CREATE:
        raise limit_exceeded("maxCreate", f"the series may issue {series.max_create} coupons")
    if status == MAX_PER_USER:
        raise limit_exceeded(
            "maxVouchersPerUser",
            f"a customer may get {series.max_vouchers_per_user} coupons of this series",
        )
    if status == MIN_GAP:
        raise limit_exceeded(
            "minDaysBetweenVouchers",
            f"{series.min_days_between_vouchers} days must pass between two coupons "
            "of this series to one customer",
        )
    raise RuntimeError(f"issue_take returned unknown status {status}")


async def release(scripts: Scripts, taken: Taken) -> None:
    """Give back what :func:`take` took, unless the counters were rebuilt since."""
    await scripts["issue_release"](
        keys=taken.keys, args=[taken.count, taken.stamp, taken.previous_last, taken.epoch]
    )


async def rebuild(pool: asyncpg.Pool, redis: Redis, scripts: Scripts, series_id: int) -> None:
    """Recompute a cold series' counters from committed coupons, under the exclusive lock
    (no issue is between its take and its commit meanwhile), then mark it warm."""
    group = keyspace.group_ref(keyspace.SERIES, series_id)
    async with pool.acquire() as conn, conn.transaction():
        await series_db.lock_exclusive(conn, series_id)
        if await redis.exists(keyspace.issuance_warm(group)):
            return  # another request rebuilt it while we waited
        total, per_customer = await coupons_db.counters(conn, series_id)
        epoch = uuid.uuid4().hex
        head = [keyspace.issuance_warm(group), keyspace.issued_total(group)]
        batches = [
            per_customer[i : i + REBUILD_BATCH] for i in range(0, len(per_customer), REBUILD_BATCH)
        ] or [[]]
        for index, batch in enumerate(batches):
            keys = list(head)
            args: list[str | int] = [total, epoch if index == len(batches) - 1 else "0"]
            for counter in batch:
                customer = str(counter.customer_id)
                keys += [
                    keyspace.issued_to_customer(group, customer),
                    keyspace.last_issued_to_customer(group, customer),
                ]
                args += [counter.issued, int(counter.last_issued_at.timestamp())]
            await scripts["issue_rebuild"](keys=keys, args=args)


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


async def current(redis: Redis, group: str) -> dict[str, str]:
    """Every issuance counter of ``group`` in Redis but its warm marker: name -> value."""
    warm = keyspace.issuance_warm(group)
    pattern = keyspace.group_keys_pattern(group, "i")
    names = [
        _text(name)
        async for name in redis.scan_iter(match=pattern, count=1000)
        if _text(name) != warm
    ]
    values = await redis.mget(names) if names else []
    return {name: _text(v) for name, v in zip(names, values, strict=True) if v is not None}


def expected(group: str, total: int, per_customer: list[CustomerCounter]) -> dict[str, str]:
    """The counters the committed coupons imply, as :func:`current` reads them."""
    want = {keyspace.issued_total(group): str(total)}
    for counter in per_customer:
        customer = str(counter.customer_id)
        want[keyspace.issued_to_customer(group, customer)] = str(counter.issued)
        want[keyspace.last_issued_to_customer(group, customer)] = str(
            int(counter.last_issued_at.timestamp())
        )
    return want


def count_drift(group: str, want: dict[str, str], have: dict[str, str]) -> int:
    """Sum of |counter - ledger| over the counts (the total and each customer's); the
    last-issue times are repaired but not counted."""
    last = keyspace.last_issued_to_customer(group, "")
    return sum(
        abs(int(want.get(name, "0")) - int(have.get(name, "0")))
        for name in want.keys() | have.keys()
        if not name.startswith(last)
    )


async def reconcile_series(
    pool: asyncpg.Pool, redis: Redis, scripts: Scripts, series_id: int
) -> int:
    """Compare a warm series' counters with its committed coupons under the exclusive lock
    (no issue is between its take and its commit meanwhile) and repair what differs; returns
    the drift. A cold series is left alone: its next issue rebuilds it."""
    group = keyspace.group_ref(keyspace.SERIES, series_id)
    async with pool.acquire() as conn, conn.transaction():
        await series_db.lock_exclusive(conn, series_id)
        if not await redis.exists(keyspace.issuance_warm(group)):
            return 0
        total, per_customer = await coupons_db.counters(conn, series_id)
        want = expected(group, total, per_customer)
        have = await current(redis, group)
        changed = [(name, value) for name, value in want.items() if have.get(name) != value]
        stale = [name for name in have if name not in want]
        if changed or stale:
            # One epoch for every batch, set by the first: the lock keeps takes out.
            epoch = uuid.uuid4().hex
            for start in range(0, max(len(changed), len(stale)), REBUILD_BATCH):
                sets = changed[start : start + REBUILD_BATCH]
                deletes = stale[start : start + REBUILD_BATCH]
                await scripts["issue_repair"](
                    keys=[keyspace.issuance_warm(group), *(n for n, _ in sets), *deletes],
                    args=[len(sets), *(v for _, v in sets), epoch],
                )
        return count_drift(group, want, have)


async def reconcile(
    pool: asyncpg.Pool, redis: Redis, scripts: Scripts, metrics: ReconcileMetrics | None
) -> int:
    """Reconcile every series' counters with its committed coupons; the total drift."""
    async with pool.acquire() as conn:
        series_ids = await series_db.all_ids(conn)
    total = 0
    for series_id in series_ids:
        total += await reconcile_series(pool, redis, scripts, series_id)
    if metrics is not None:
        metrics.drift.set(total)
        metrics.repaired.inc(total)
    if total:
        log.warning("reconcile repaired drift of %d over %d series", total, len(series_ids))
    return total
