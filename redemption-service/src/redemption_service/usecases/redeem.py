"""Redeeming: judge, take every group's counters, record the ledger.

See docs/redemption.md: a per-group advisory lock, shared here and exclusive in a rebuild,
is held from before the guard script until the ledger's commit, and whatever was taken is
given back (still under that lock, or guarded by the counters' epoch) if the ledger is not
written.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from coupon_core.db import (
    Connection,
    commit,
    rollback_if_open,
    rolled_back,
)
from coupon_core.errors import ServiceUnavailable
from redis.exceptions import RedisError

from redemption_service.counters import Cold, Counters, Mode, Use
from redemption_service.db import ledger, locks
from redemption_service.db.group_commit import GroupCommit
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
    counters: Counters,
    by_group: dict[str, list[Judged]],
    mode: Mode,
    taken: list[Judged],
    epochs: dict[str, str],
) -> bool:
    """Run the guard of each group in turn; False (and stop) when an all-or-nothing group
    fails. Items taken are appended to ``taken``, and each group's epoch set in ``epochs``."""
    for group, entries in by_group.items():
        facts = entries[0].group
        assert facts is not None
        statuses, epochs[group] = await counters.guard(
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


async def _release(counters: Counters, taken: list[Judged], epochs: dict[str, str]) -> None:
    by_group: dict[str, list[tuple[str, str]]] = {}
    for e in taken:
        assert e.group is not None
        assert e.customer_id is not None
        by_group.setdefault(e.group.group, []).append((e.item.code, e.customer_id))
        e.taken = False
    taken.clear()
    for group, uses in by_group.items():
        # A failed give-back leaves the counter high: fewer redemptions, never more; the
        # reconciler brings it back to the ledger.
        with contextlib.suppress(RedisError, OSError):
            await counters.release(group, uses, epoch=epochs.get(group))


def _new_rows(taken: Sequence[Judged]) -> list[ledger.NewRedemption]:
    return [
        ledger.NewRedemption(
            code=e.item.code,
            group_ref=e.group.group if e.group else "",
            customer_id=e.customer_id or "",
            amount=e.item.amount,
            coupon_value=e.value,
            transaction_number=e.item.transaction_number,
            custom_fields=[{"name": n, "value": v} for n, v in e.item.custom_fields],
        )
        for e in taken
    ]


async def _attempt(
    pool: asyncpg.Pool,
    commits: GroupCommit,
    counters: Counters,
    judged: list[Judged],
    *,
    partial: bool,
    on_commit: OnCommit | None,
) -> None:
    by_group = _by_group(judged)
    if not by_group:
        if on_commit is not None:
            async with pool.acquire() as conn, conn.transaction():
                await on_commit(conn, judged)
        return
    mode: Mode = "partial" if partial else "all"
    if on_commit is None:
        await _attempt_handing_over(commits, counters, by_group, mode)
    else:
        await _attempt_in_transaction(pool, counters, judged, by_group, mode, on_commit)


async def _attempt_handing_over(
    commits: GroupCommit, counters: Counters, by_group: dict[str, list[Judged]], mode: Mode
) -> None:
    """Two PostgreSQL round trips, shared with the concurrent redeems of the same batch
    (db/group_commit.py): the groups' session-level shared locks, then one autocommitted
    statement that writes the ledger and hands the locks over to its own transaction (held
    until its commit). See docs/redemption.md."""
    taken: list[Judged] = []
    epochs: dict[str, str] = {}
    async with commits.join(by_group) as seat:
        try:
            complete = await _guard_groups(counters, by_group, mode, taken, epochs)
            if not complete:
                await _release(counters, taken, epochs)
        except BaseException:
            # Still under the batch's session locks (it waits for this seat): exact.
            await _release(counters, taken, epochs)
            raise
        if not taken:
            return
        try:
            ids = await seat.write(_new_rows(taken))
        except BaseException as exc:
            if rolled_back(exc):
                # The server refused the statement: it rolled back, none of it is in the
                # ledger. Whether its locks were still held or not, the give-back carries the
                # epoch of the take and so never lands on counters a rebuild has set since.
                await _release(counters, taken, epochs)
            # Any other failure (connection lost, cancelled) leaves the outcome unknown:
            # nothing is given back; a counter too high refuses, never admits, and is
            # reconciled.
            raise
    for e, redemption_id in zip(taken, ids, strict=True):
        e.redemption_id = redemption_id


async def _attempt_in_transaction(
    pool: asyncpg.Pool,
    counters: Counters,
    judged: list[Judged],
    by_group: dict[str, list[Judged]],
    mode: Mode,
    on_commit: OnCommit,
) -> None:
    """Three PostgreSQL round trips and one per ``on_commit`` statement: ``BEGIN`` with the
    groups' transaction-level shared locks, the ledger, then ``COMMIT``."""
    taken: list[Judged] = []
    epochs: dict[str, str] = {}
    async with pool.acquire() as conn:
        # BEGIN and the shared group locks in one round trip; the transaction is ended by
        # hand below, on every path.
        try:
            await conn.execute(locks.begin_shared_sql(by_group))
            complete = await _guard_groups(counters, by_group, mode, taken, epochs)
            if not complete:
                await _release(counters, taken, epochs)
            if taken:
                ids = await ledger.insert(conn, _new_rows(taken))
                for e in taken:
                    e.redemption_id = ids[e.item.code]
            await on_commit(conn, judged)
        except BaseException:
            # The transaction is still open, so the shared group locks are still held: no
            # rebuild can have read the ledger since we took, so giving back is exact.
            await _release(counters, taken, epochs)
            await rollback_if_open(conn)
            raise
        try:
            await commit(conn, "redemption")
        except BaseException as exc:
            if rolled_back(exc):
                # The server refused the COMMIT or answered ROLLBACK: none of it is in the
                # ledger. The locks went with it, but the give-back carries the epoch of the
                # take and so never lands on counters a rebuild has set since.
                await _release(counters, taken, epochs)
            # Any other failure (connection lost, cancelled) leaves the outcome unknown:
            # nothing is given back; a counter too high refuses, never admits, and is
            # reconciled.
            raise


async def redeem(
    pool: asyncpg.Pool,
    commits: GroupCommit,
    counters: Counters,
    items: Sequence[RedeemItem],
    *,
    partial: bool,
    on_commit: OnCommit | None = None,
    metrics: ReconcileMetrics | None = None,
) -> list[Judged]:
    judged = await judge(counters.pipe, items, now=int(time.time()))
    if not partial and any(j.status is not ItemStatus.OK for j in judged):
        # Nothing can be redeemed: no counter is touched.
        if on_commit is not None:
            async with pool.acquire() as conn, conn.transaction():
                await on_commit(conn, judged)
        return judged
    before = [j.status for j in judged]
    for _ in range(MAX_REBUILDS + 1):
        try:
            await _attempt(pool, commits, counters, judged, partial=partial, on_commit=on_commit)
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
    judged = await judge(counters.pipe, items, now=int(time.time()))
    before = [j.status for j in judged]
    for _ in range(MAX_REBUILDS + 1):
        try:
            await _guard_groups(counters, _by_group(judged), "check", [], {})
            return judged
        except Cold as cold:
            for entry, status in zip(judged, before, strict=True):
                entry.status = status
            await rebuild_group(pool, counters, cold.group)
    raise ServiceUnavailable("Redemption counters are being rebuilt; retry shortly.")
