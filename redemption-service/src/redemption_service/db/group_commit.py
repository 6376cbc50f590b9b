"""Group commit: concurrent redeems share their two PostgreSQL round trips.

A redeem without an Idempotency-Key needs the shared locks of its groups before its guard
script runs, and one ledger statement that takes them over and commits (docs/redemption.md).
Redeems that arrive while the batches ahead of them are busy join one batch: one connection,
one statement for the locks of every group any of them names, then, once each member has
run its own guard and either handed in rows or left, one ledger statement for all the rows.
Nothing waits for a batch to fill: a batch starts as soon as one of the ``concurrency``
slots is free, so a lone redeem pays no delay and a busy service gets larger batches.

A member leaving without rows (refused, failed, cancelled) never holds the others up. When
the server refuses the shared statement, each member's rows are tried again alone under the
same locks, so one bad row fails only its own request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TypeVar

import asyncpg
from coupon_core.db import Connection, clear_session_state, rolled_back
from prometheus_client import CollectorRegistry, Histogram

from redemption_service.db import ledger, locks

MAX_MEMBERS = 64
T = TypeVar("T")


class Seat:
    """One redeem's place in a batch: the batch's locks cover its groups from the moment
    :meth:`GroupCommit.join` yields until the seat is left."""

    def __init__(self, groups: Iterable[str]) -> None:
        loop = asyncio.get_running_loop()
        self.groups = list(groups)
        self.locked: asyncio.Future[None] = loop.create_future()
        self.rows: asyncio.Future[Sequence[ledger.NewRedemption]] = loop.create_future()
        self.ids: asyncio.Future[list[int]] = loop.create_future()

    async def write(self, rows: Sequence[ledger.NewRedemption]) -> list[int]:
        """Hand in the rows taken and wait for the batch's statement: their ids, in order.
        Raises what the statement raised (see :func:`coupon_core.db.rolled_back`)."""
        self.rows.set_result(rows)
        return await self.ids

    def leave(self) -> None:
        if not self.rows.done():
            self.rows.set_result(())


def _settle(future: asyncio.Future[T], exc: BaseException) -> None:
    """Fail a member's future unless it is settled (or cancelled with its member)."""
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
        return
    future.set_exception(exc)
    # The member may be gone: the exception is its to report, not the event loop's.
    future.exception()


def _resolve(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


class _Batch:
    def __init__(self) -> None:
        self.seats: list[Seat] = []
        self.open = True


class GroupCommit:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        concurrency: int,
        registry: CollectorRegistry,
    ) -> None:
        self._pool = pool
        self._slots = asyncio.Semaphore(concurrency)
        self._forming: _Batch | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.sizes = Histogram(
            "redemption_group_commit_size",
            "Redeems whose rows one ledger statement wrote (one batch).",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=registry,
        )

    @property
    def waiting(self) -> int:
        """Redeems in the batch being formed, waiting for a slot."""
        return len(self._forming.seats) if self._forming is not None else 0

    @contextlib.asynccontextmanager
    async def join(self, groups: Iterable[str]) -> AsyncIterator[Seat]:
        """A seat in the batch being formed (a new one if none is), once the batch holds
        the shared locks of ``groups``; leaving the block without :meth:`Seat.write` leaves
        the batch."""
        batch = self._forming
        if batch is None or not batch.open or len(batch.seats) >= MAX_MEMBERS:
            batch = self._forming = _Batch()
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        seat = Seat(groups)
        batch.seats.append(seat)
        try:
            await seat.locked
            yield seat
        finally:
            seat.leave()

    async def close(self) -> None:
        """Wait for the batches in flight (their members are waiting for them too)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _run(self, batch: _Batch) -> None:
        try:
            async with self._slots:
                batch.open = False
                if self._forming is batch:
                    self._forming = None
                async with self._pool.acquire() as conn:
                    await self._locked_batch(conn, batch.seats)
        except BaseException as exc:
            for seat in batch.seats:
                _settle(seat.locked, exc)
                _settle(seat.ids, exc)
            if not isinstance(exc, Exception):
                raise

    async def _locked_batch(self, conn: Connection, seats: list[Seat]) -> None:
        keys = await locks.lock_session_shared_many(conn, {g for s in seats for g in s.groups})
        for seat in seats:
            _resolve(seat.locked, None)
        await asyncio.wait([seat.rows for seat in seats])
        writers = [seat for seat in seats if seat.rows.result()]
        if not writers:
            return  # the connection is marked: the pool releases the locks
        self.sizes.observe(len(writers))
        rows = [row for seat in writers for row in seat.rows.result()]
        try:
            ids, released = await ledger.insert_handing_over(conn, rows, keys)
        except Exception as exc:
            if not (rolled_back(exc) and len(writers) > 1):
                raise
            await _one_by_one(conn, writers)
            return
        if released:
            clear_session_state(conn)
        start = 0
        for seat in writers:
            end = start + len(seat.rows.result())
            _resolve(seat.ids, ids[start:end])
            start = end


async def _one_by_one(conn: Connection, writers: list[Seat]) -> None:
    """Each member's rows in a statement of its own, still under the batch's session locks
    (the pool releases them with the connection)."""
    for seat in writers:
        rows = seat.rows.result()
        try:
            by_code = await ledger.insert(conn, rows)
        except Exception as exc:
            _settle(seat.ids, exc)
            if not rolled_back(exc):
                raise  # the connection is gone: the others' outcome is unknown too
            continue
        _resolve(seat.ids, [by_code[row.code] for row in rows])
