"""Redeeming: judge, take every group's counters, record the ledger.

See docs/redemption.md: a per-group advisory lock, shared here and exclusive in a rebuild,
is held from before the guard script until the ledger's commit, and whatever was taken is
given back (still under that lock, or guarded by the counters' epoch) if the ledger is not
written.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence

import asyncpg
from coupon_core import events, idempotency
from coupon_core.db import rolled_back
from coupon_core.errors import ServiceUnavailable
from coupon_core.reconcile import ReconcileMetrics
from redis.exceptions import RedisError

from redemption_service.db import ledger
from redemption_service.db.counters import (
    REACHED_COUPON,
    REACHED_TOTAL,
    Cold,
    Counters,
    Mode,
    Use,
)
from redemption_service.db.group_commit import GroupCommit, Seat
from redemption_service.domain.models import Judged, RedeemItem
from redemption_service.domain.status import ItemStatus
from redemption_service.usecases.judge import judge
from redemption_service.usecases.rebuild import rebuild_group

MAX_REBUILDS = 3


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
        guarded = await counters.guard(
            mode,
            group,
            total_limit=facts.total_limit,
            per_customer_limit=facts.per_customer_limit,
            uses=_uses(entries),
        )
        epochs[group] = guarded.epoch
        for entry, status, reached in zip(entries, guarded.statuses, guarded.reached, strict=True):
            entry.status, entry.reached = ItemStatus(status), reached
        if mode == "all" and any(s != ItemStatus.OK for s in guarded.statuses):
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


def _limits_reached(e: Judged) -> list[dict[str, object]]:
    """The limit.reached payloads of one use taken (its ledger statement stamps the time)."""
    assert e.group is not None
    assert e.coupon is not None
    found: list[dict[str, object]] = []
    if e.reached & REACHED_COUPON and e.coupon.usage_limit is not None:
        found.append(
            events.limit_reached(
                group=e.group.group,
                code=e.item.code,
                counter="redemptions",
                limit=e.coupon.usage_limit,
                reached_at=None,
            )
        )
    if e.reached & REACHED_TOTAL and e.group.total_limit is not None:
        found.append(
            events.limit_reached(
                group=e.group.group,
                code=None,
                counter="redemptions",
                limit=e.group.total_limit,
                reached_at=None,
            )
        )
    return found


def _new_rows(taken: Sequence[Judged], ids: Sequence[int]) -> list[ledger.NewRedemption]:
    """The ledger rows of what was taken, each with one of the reserved ``ids`` and the
    limit.reached events its use makes; the ids are set on the entries too (the response
    names them)."""
    rows = []
    for e, redemption_id in zip(taken, ids[: len(taken)], strict=True):
        e.redemption_id = redemption_id
        rows.append(
            ledger.NewRedemption(
                id=redemption_id,
                code=e.item.code,
                group_ref=e.group.group if e.group else "",
                customer_id=e.customer_id or "",
                amount=e.item.amount,
                coupon_value=e.value,
                transaction_number=e.item.transaction_number,
                custom_fields=[{"name": n, "value": v} for n, v in e.item.custom_fields],
                limits_reached=_limits_reached(e),
            )
        )
    return rows


def _unnumber(taken: Sequence[Judged]) -> None:
    for e in taken:
        e.redemption_id = None


class Redeemed:
    """The items judged (:attr:`judged`) and, for those that passed, their counters taken and
    redemption ids drawn, under the batch's locks: the typed result a redeem's answer is
    rendered from before :meth:`commit` writes the ledger rows with it (an
    :class:`~coupon_core.idempotency.Committable`)."""

    what = "redeem"

    __slots__ = (
        "_counters",
        "_epochs",
        "_pool",
        "_rows",
        "_seat",
        "_taken",
        "committing",
        "judged",
    )

    def __init__(
        self, judged: list[Judged], pool: asyncpg.Pool, counters: Counters, seat: Seat | None
    ) -> None:
        self.judged = judged
        self._pool = pool
        self._counters = counters
        self._seat = seat  # None: nothing to take
        self._taken: list[Judged] = []
        self._epochs: dict[str, str] = {}
        self._rows: list[ledger.NewRedemption] = []
        self.committing = False

    async def take(self, by_group: dict[str, list[Judged]], mode: Mode) -> None:
        """Run the groups' guards (their counters taken) and number the rows of what was
        taken; anything raised (:class:`Cold` included) gives back what was taken."""
        assert self._seat is not None
        try:
            admitted = await _guard_groups(
                self._counters, by_group, mode, self._taken, self._epochs
            )
            if not admitted:
                await _release(self._counters, self._taken, self._epochs)
            self._rows = _new_rows(self._taken, self._seat.ids)
        except BaseException:
            await self.roll_back()
            raise

    async def commit(self, answer: idempotency.Answer | None) -> None:
        """Write the ledger rows of what was taken, their events and ``answer`` (an
        Idempotency-Key's) in one autocommitted statement shared with the batch
        (db/group_commit.py), which hands the groups' locks over to its own transaction;
        with nothing taken, store the answer alone."""
        self.committing = True
        if self._seat is None:
            if answer is not None:
                await idempotency.store_without_effect(self._pool, answer)
            return
        if not self._rows and answer is None:
            return  # nothing to write: leaving the seat leaves the batch
        try:
            await self._seat.write(self._rows, answer)
        except BaseException as exc:
            _unnumber(self._taken)
            if rolled_back(exc):
                # The server refused the statement: it rolled back, none of it is in the
                # ledger. Whether its locks were still held or not, the give-back carries the
                # epoch of the take and so never lands on counters a rebuild has set since.
                await _release(self._counters, self._taken, self._epochs)
            # Any other failure (connection lost, cancelled) leaves the outcome unknown:
            # nothing is given back; a counter too high refuses, never admits, and is
            # reconciled.
            raise

    async def roll_back(self) -> None:
        """Nothing written: give back what was taken. Still under the batch's session locks
        (it waits for this seat): exact."""
        _unnumber(self._taken)
        await _release(self._counters, self._taken, self._epochs)


@contextlib.asynccontextmanager
async def redeem(
    pool: asyncpg.Pool,
    commits: GroupCommit,
    counters: Counters,
    items: Sequence[RedeemItem],
    *,
    partial: bool,
    metrics: ReconcileMetrics | None = None,
) -> AsyncIterator[Redeemed]:
    """Judge ``items`` and take the counters of those that pass (all or nothing unless
    ``partial``). The block renders the answer from :attr:`Redeemed.judged` and calls
    :meth:`Redeemed.commit`; leaving it any other way gives back what was taken.

    Two PostgreSQL round trips, shared with the concurrent redeems of the same batch
    (db/group_commit.py): the groups' session-level shared locks and the redemption ids
    (before the guards run), then the commit's one statement. See docs/redemption.md."""
    judged = await judge(counters.pipe, items, now=int(time.time()))
    by_group = _by_group(judged)
    if not by_group or (not partial and any(j.status is not ItemStatus.OK for j in judged)):
        # Nothing can be redeemed: no counter is touched.
        async with idempotency.until_committed(Redeemed(judged, pool, counters, None)) as nothing:
            yield nothing
        return
    mode: Mode = "partial" if partial else "all"
    wanted = sum(len(entries) for entries in by_group.values())
    before = [j.status for j in judged]
    for _ in range(MAX_REBUILDS + 1):
        async with commits.join(by_group, wanted) as seat:
            redeemed = Redeemed(judged, pool, counters, seat)
            try:
                await redeemed.take(by_group, mode)
            except Cold as exc:
                cold = exc
            else:
                async with idempotency.until_committed(redeemed):
                    yield redeemed
                return
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
