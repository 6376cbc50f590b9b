"""Series issuance counters in Redis: taken atomically per issue, rebuilt from PostgreSQL,
and repaired by the reconciler (``reconcile.py``) when they drift from it.

See docs/issuance.md ("Limits and counters") for why this is safe across replicas and
against Redis losing its data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from coupon_core import redis_keys
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from issuance_service.db import coupons as coupons_db
from issuance_service.db import series as series_db
from issuance_service.domain import rules
from issuance_service.domain.errors import limit_exceeded
from issuance_service.domain.models import CustomerCounter, Series

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
    reached: bool = False  # this take made the series' total reach maxCreate


def _keys(group: str, customer_id: int) -> list[str]:
    customer = str(customer_id)
    return [
        redis_keys.issuance_warm(group),
        redis_keys.issued_total(group),
        redis_keys.issued_to_customer(group, customer),
        redis_keys.last_issued_to_customer(group, customer),
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
    status, previous, *rest = await scripts["issue_take"](keys=keys, args=args)
    status = int(status)
    if status == TAKEN:
        epoch, reached = rest
        return Taken(
            keys=keys,
            count=count,
            stamp=stamp,
            previous_last=_text(previous),
            epoch=_text(epoch),
            reached=int(reached) == 1,
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
    group = redis_keys.group_ref(redis_keys.SERIES, series_id)
    async with pool.acquire() as conn, conn.transaction():
        await series_db.lock_exclusive(conn, series_id)
        if await redis.exists(redis_keys.issuance_warm(group)):
            return  # another request rebuilt it while we waited
        total, per_customer = await coupons_db.counters(conn, series_id)
        epoch = uuid.uuid4().hex
        head = [redis_keys.issuance_warm(group), redis_keys.issued_total(group)]
        batches = [
            per_customer[i : i + REBUILD_BATCH] for i in range(0, len(per_customer), REBUILD_BATCH)
        ] or [[]]
        for index, batch in enumerate(batches):
            keys = list(head)
            args: list[str | int] = [total, epoch if index == len(batches) - 1 else "0"]
            for counter in batch:
                customer = str(counter.customer_id)
                keys += [
                    redis_keys.issued_to_customer(group, customer),
                    redis_keys.last_issued_to_customer(group, customer),
                ]
                args += [counter.issued, int(counter.last_issued_at.timestamp())]
            await scripts["issue_rebuild"](keys=keys, args=args)


async def read(redis: Redis, names: Sequence[str]) -> dict[str, str]:
    """The values of the counters ``names`` that exist (MGET in chunks, no SCAN)."""
    found: dict[str, str] = {}
    for start in range(0, len(names), REBUILD_BATCH):
        chunk = names[start : start + REBUILD_BATCH]
        for name, value in zip(chunk, await redis.mget(chunk), strict=True):
            if value is not None:
                found[name] = _text(value)
    return found


def expected(group: str, total: int, per_customer: list[CustomerCounter]) -> dict[str, str]:
    """The counters the committed coupons imply, as :func:`read` reads them."""
    want = {redis_keys.issued_total(group): str(total)}
    for counter in per_customer:
        customer = str(counter.customer_id)
        want[redis_keys.issued_to_customer(group, customer)] = str(counter.issued)
        want[redis_keys.last_issued_to_customer(group, customer)] = str(
            int(counter.last_issued_at.timestamp())
        )
    return want


def count_drift(group: str, want: dict[str, str], have: dict[str, str]) -> int:
    """Sum of |counter - ledger| over the counts (the total and each customer's); the
    last-issue times are repaired but not counted."""
    last = redis_keys.last_issued_to_customer(group, "")
    return sum(
        abs(int(want.get(name, "0")) - int(have.get(name, "0")))
        for name in want.keys() | have.keys()
        if not name.startswith(last)
    )
