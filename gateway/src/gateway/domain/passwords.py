"""Password hashing with Argon2, bounded in memory.

An Argon2 hash holds ``memory_cost`` KiB while it runs (64 MiB with argon2-cffi's defaults),
so hashes running at once are what a login burst costs in memory. At most ``concurrency``
run at once, each on a thread of this object's own pool (off the event loop, and never
taking every thread of the loop's default executor), so hashing never holds more than
``concurrency`` times ``memory_cost``. A caller waits up to ``wait_s`` for a turn, then gets
:class:`~coupon_core.errors.ServiceUnavailable` (503 with Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from coupon_core.errors import ServiceUnavailable
from coupon_core.turns import NoTurn, Turns

T = TypeVar("T")


class Passwords:
    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        concurrency: int,
        wait_s: float,
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._decoy: str | None = None
        self._turns = Turns(concurrency, wait_s)
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="argon2")
        self._count_lock = threading.Lock()
        # Hashes running now, and the most that ever ran at once (read by metrics and tests).
        self.running = 0
        self.peak = 0

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; with ``stored`` None (unknown email) a
        decoy is verified, so both failures cost the same time."""
        return await self._run(self._verify, stored, password)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """One of the ``concurrency`` turns, held for the block."""
        await self._take_turn()
        try:
            yield
        finally:
            self._turns.give_back()

    async def _take_turn(self) -> None:
        try:
            await self._turns.take()
        except NoTurn:
            raise ServiceUnavailable("Too many password checks at once; retry shortly.") from None

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        await self._take_turn()
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self._threads, functools.partial(self._counted, work, *args)
            )
        except BaseException:
            self._turns.give_back()
            raise
        # The turn is given back when the hash is done, not when the caller stops waiting
        # (a client that disconnects does not stop a hash already running).
        future.add_done_callback(lambda _: self._turns.give_back())
        return await asyncio.shield(future)

    def _counted(self, work: Callable[..., T], *args: object) -> T:
        with self._count_lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return work(*args)
        finally:
            with self._count_lock:
                self.running -= 1

    def _verify(self, stored: str | None, password: str) -> bool:
        if stored is None and self._decoy is None:
            self._decoy = self._hasher.hash("decoy password never used")
        try:
            ok = self._hasher.verify(stored or self._decoy or "", password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and stored is not None
