"""Bounded concurrency with a bounded wait: at most ``size`` holders at once, and a caller
that gets no turn within ``wait_s`` is refused instead of queueing for ever. Pools and
limiters of the platform answer a refusal with a 503 (SPEC section 7: "pools wait (bounded)
for a connection instead of failing a burst")."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class NoTurn(Exception):
    """No turn came free within the wait."""


class Turns:
    __slots__ = ("_free", "size", "wait_s")

    def __init__(self, size: int, wait_s: float) -> None:
        if size < 1:
            raise ValueError("at least one turn")
        self.size = size
        self.wait_s = wait_s
        self._free = asyncio.Semaphore(size)

    async def take(self) -> None:
        """Wait up to ``wait_s`` for a turn (:class:`NoTurn` when none came); the caller gives
        it back with :meth:`give_back`, whatever happens after."""
        if not self._free.locked():
            # A turn is free and nobody queues for one: taken without a wait (no timer).
            await self._free.acquire()
            return
        try:
            async with asyncio.timeout(self.wait_s):
                await self._free.acquire()
        except TimeoutError:
            raise NoTurn(f"no turn free within {self.wait_s:g}s") from None

    def give_back(self) -> None:
        self._free.release()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """A turn held for the block; only the wait raises :class:`NoTurn`."""
        await self.take()
        try:
            yield
        finally:
            self.give_back()
