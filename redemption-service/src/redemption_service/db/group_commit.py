"""Group commit: concurrent redeems share their two PostgreSQL round trips.

A redeem needs the shared locks of its groups before its guard script runs, and one ledger
statement that takes them over and commits its rows (and its Idempotency-Key answer)
(docs/redemption.md). Redeems that arrive while the batches ahead of them are busy join one
batch: one connection, one statement for the locks of every group any of them names and the
redemption ids they may need, then, once each member has run its own guard and either handed
in what to write or left, one ledger statement for all of it.
Nothing waits for a batch to fill: a batch starts as soon as one of the ``concurrency``
slots is free, so a lone redeem pays no delay and a busy service gets larger batches.

A member leaving without rows (refused, failed, cancelled) never holds the others up. When
the server refuses the shared statement, each member's part is tried again alone under the
same locks, so one bad row fails only its own request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence

import asyncpg
from coupon_core.db import Connection, clear_session_state, rolled_back
from coupon_core.futures import fail, resolve
from coupon_core.idempotency import Answer
from prometheus_client import CollectorRegistry, Histogram

from redemption_service.db import ledger

MAX_MEMBERS = 64


Part = tuple[Sequence[ledger.NewRedemption], Answer | None]


class Seat:
    """One redeem's place in a batch: the batch's locks cover its groups from the moment
    :meth:`GroupCommit.join` yields until the seat is left."""

    def __init__(self, groups: Iterable[str], wanted: int) -> None:
        loop = asyncio.get_running_loop()
        self.groups = list(groups)
        self.wanted = wanted
        self.ids: list[int] = []  # reserved for this redeem's rows, set once locked
        self.locked: asyncio.Future[None] = loop.create_future()
        self.part: asyncio.Future[Part] = loop.create_future()
        self.written: asyncio.Future[None] = loop.create_future()

    async def write(self, rows: Sequence[ledger.NewRedemption], answer: Answer | None) -> None:
        """Hand in the rows taken (with ids from :attr:`ids`) and the Idempotency-Key's
        answer, and wait for the batch's statement. Raises what the statement raised (see
        :func:`coupon_core.db.rolled_back`)."""
        self.part.set_result((rows, answer))
        await self.written

    def leave(self) -> None:
        if not self.part.done():
            self.part.set_result(((), None))

    @property
    def writes(self) -> bool:
        rows, answer = self.part.result()
        return bool(rows) or answer is not None


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
    async def join(self, groups: Iterable[str], wanted: int) -> AsyncIterator[Seat]:
        """A seat in the batch being formed (a new one if none is), once the batch holds
        the shared locks of ``groups`` and ``wanted`` redemption ids are reserved for it
        (:attr:`Seat.ids`); leaving the block without :meth:`Seat.write` leaves the batch."""
        batch = self._forming
        if batch is None or not batch.open or len(batch.seats) >= MAX_MEMBERS:
            batch = self._forming = _Batch()
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        seat = Seat(groups, wanted)
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
                fail(seat.locked, exc)
                fail(seat.written, exc)
            if not isinstance(exc, Exception):
                raise

    async def _locked_batch(self, conn: Connection, seats: list[Seat]) -> None:
        keys, ids = await ledger.lock_and_reserve(
            conn, {g for s in seats for g in s.groups}, sum(s.wanted for s in seats)
        )
        start = 0
        for seat in seats:
            seat.ids = ids[start : start + seat.wanted]
            start += seat.wanted
            resolve(seat.locked, None)
        await asyncio.wait([seat.part for seat in seats])
        writers = [seat for seat in seats if seat.writes]
        if not writers:
            return  # the connection is marked: the pool releases the locks
        self.sizes.observe(len(writers))
        rows = [row for seat in writers for row in seat.part.result()[0]]
        answers = [a for seat in writers if (a := seat.part.result()[1]) is not None]
        try:
            released = await ledger.write(conn, rows, answers, keys)
        except Exception as exc:
            if not (rolled_back(exc) and len(writers) > 1):
                raise
            await _one_by_one(conn, writers)
            return
        if released:
            clear_session_state(conn)
        for seat in writers:
            resolve(seat.written, None)


async def _one_by_one(conn: Connection, writers: list[Seat]) -> None:
    """Each member's part in a statement of its own, still under the batch's session locks
    (the pool releases them with the connection)."""
    for seat in writers:
        rows, answer = seat.part.result()
        try:
            await ledger.write(conn, rows, [answer] if answer else [])
        except Exception as exc:
            fail(seat.written, exc)
            if not rolled_back(exc):
                raise  # the connection is gone: the others' outcome is unknown too
            continue
        resolve(seat.written, None)
