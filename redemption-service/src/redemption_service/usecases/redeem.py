"""Redeeming: judge, take every group's counters, record the ledger, all in one PG transaction.

See docs/redemption.md: a per-group advisory lock, shared here and exclusive in a rebuild,
is held from before the guard script until the commit, and whatever was taken is given back
(still under that lock) if anything fails before the commit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import ServiceUnavailable
from redis.exceptions import RedisError

from redemption_service.counters import Cold, Counters, Mode, Use
from redemption_service.db import ledger
from redemption_service.domain.models import Judged, RedeemItem
from redemption_service.domain.status import ItemStatus
from redemption_service.usecases.judge import judge
from redemption_service.usecases.rebuild import ReconcileMetrics, rebuild_group

MAX_REBUILDS = 3

OnCommit = Callable[[Connection, list[Judged]], Awaitable[None]]


def _by_group(judged: Sequence[Judged]) -> dict[str, list[Judged]]:
    groups: dict[str, list[Judged]] = {}
    for entry in judged:
        if entry.status is ItemStatus.OK and entry.group is not None:
            groups.setdefault(entry.group.group, []).append(entry)
    return dict(sorted(groups.items()))


def _uses(entries: Sequence[Judged]) -> list[Use]:
    uses = []
    for e in entries:
        assert e.coupon is not None
        assert e.customer_id is not None
        uses.append(
            Use(e.item.code, e.customer_id, e.coupon.usage_limit, e.coupon.per_customer_limit)
        )
    return uses


async def _guard_groups(
    counters: Counters, by_group: dict[str, list[Judged]], mode: Mode, taken: list[Judged]
) -> bool:
    """Run the guard of each group in turn; False (and stop) when an all-or-nothing group
    fails. Items taken are appended to ``taken``."""
    for group, entries in by_group.items():
        facts = entries[0].group
        assert facts is not None
        statuses = await counters.guard(
            mode,
            group,
            total_limit=facts.total_limit,
            per_customer_limit=facts.per_customer_limit,
            uses=_uses(entries),
        )
        for entry, status in zip(entries, statuses, strict=True):
            entry.status = ItemStatus(status)
        if mode == "all" and any(s != ItemStatus.OK for s in statuses):
            return False
        for entry in entries:
            if entry.status is ItemStatus.OK and mode != "check":
                entry.taken = True
                taken.append(entry)
    return True


async def _release(counters: Counters, taken: Sequence[Judged]) -> None:
    by_group: dict[str, list[tuple[str, str]]] = {}
    for e in taken:
        assert e.group is not None
        assert e.customer_id is not None
        by_group.setdefault(e.group.group, []).append((e.item.code, e.customer_id))
        e.taken = False
    for group, uses in by_group.items():
        # A failed give-back leaves the counter high: fewer redemptions, never more; the
        # reconciler brings it back to the ledger.
        with contextlib.suppress(RedisError, OSError):
            await counters.release(group, uses)


async def _attempt(
    pool: asyncpg.Pool,
    counters: Counters,
    judged: list[Judged],
    *,
    partial: bool,
    on_commit: OnCommit | None,
) -> None:
    by_group = _by_group(judged)
    if not by_group and on_commit is None:
        return
    async with pool.acquire() as conn, conn.transaction():
        if not by_group:
            assert on_commit is not None
            await on_commit(conn, judged)
            return
        await ledger.lock_groups_shared(conn, list(by_group))
        taken: list[Judged] = []
        try:
            complete = await _guard_groups(
                counters, by_group, "partial" if partial else "all", taken
            )
            if not complete:
                await _release(counters, taken)
                taken.clear()
            if taken:
                ids = await ledger.insert(
                    conn,
                    [
                        ledger.NewRedemption(
                            code=e.item.code,
                            group_ref=e.group.group if e.group else "",
                            customer_id=e.customer_id or "",
                            amount=e.item.amount,
                            coupon_value=e.value,
                            transaction_number=e.item.transaction_number,
                            custom_fields=[
                                {"name": n, "value": v} for n, v in e.item.custom_fields
                            ],
                        )
                        for e in taken
                    ],
                )
                for e in taken:
                    e.redemption_id = ids[e.item.code]
            if on_commit is not None:
                await on_commit(conn, judged)
        except BaseException:
            # Still inside the transaction, so still under the shared group locks: no
            # rebuild can have read the ledger since we took, so giving back is exact.
            await _release(counters, taken)
            raise


async def redeem(
    pool: asyncpg.Pool,
    counters: Counters,
    items: Sequence[RedeemItem],
    *,
    partial: bool,
    on_commit: OnCommit | None = None,
    metrics: ReconcileMetrics | None = None,
) -> list[Judged]:
    judged = await judge(counters.redis, items, now=int(time.time()))
    if not partial and any(j.status is not ItemStatus.OK for j in judged):
        # Nothing can be redeemed: no counter is touched.
        if on_commit is not None:
            async with pool.acquire() as conn, conn.transaction():
                await on_commit(conn, judged)
        return judged
    before = [j.status for j in judged]
    for _ in range(MAX_REBUILDS + 1):
        try:
            await _attempt(pool, counters, judged, partial=partial, on_commit=on_commit)
            return judged
        except Cold as cold:
            for entry, status in zip(judged, before, strict=True):
                entry.status, entry.taken, entry.redemption_id = status, False, None
            await rebuild_group(pool, counters, cold.group)
            if metrics is not None:
                metrics.rebuilds.inc()
    raise ServiceUnavailable("Redemption counters are being rebuilt; retry shortly.")


async def dry_run(
    pool: asyncpg.Pool, counters: Counters, items: Sequence[RedeemItem]
) -> list[Judged]:
    """The same checks as :func:`redeem`, limits included, with nothing taken."""
    judged = await judge(counters.redis, items, now=int(time.time()))
    before = [j.status for j in judged]
    for _ in range(MAX_REBUILDS + 1):
        try:
            await _guard_groups(counters, _by_group(judged), "check", [])
            return judged
        except Cold as cold:
            for entry, status in zip(judged, before, strict=True):
                entry.status = status
            await rebuild_group(pool, counters, cold.group)
    raise ServiceUnavailable("Redemption counters are being rebuilt; retry shortly.")
