"""Rate limits per principal, and failed-credential throttling per client address and per
login account, in Redis.

All are fixed one-minute windows kept by one Lua script, so every gateway replica sharing
the Redis enforces the same budget. A replica takes a principal's budget in small leases
(``lease_size``), so most requests cost no Redis round trip; what a replica leased and did
not use by the end of the window is lost, so a principal spread over replicas may be held to
slightly less than its limit (at most 1% per replica), never more.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from coupon_core.errors import TooManyRequests
from coupon_core.scripts import load_scripts
from coupon_core.web import bundled_dir
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

WINDOW_MS = 60_000
MAX_LEASE = 100
LUA_DIR = bundled_dir(__file__, "lua")


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    count: int
    reset_ms: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def reset_s(self) -> int:
        return max(1, math.ceil(self.reset_ms / 1000))

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


def too_many(window: Window, message: str) -> TooManyRequests:
    return TooManyRequests(
        message, headers={"Retry-After": str(window.reset_s), **window.headers()}
    )


@dataclass
class _Lease:
    units: int  # granted by Redis, not used yet
    count: int  # the shared counter when they were granted
    limit: int
    until: float  # monotonic: the window's end


def lease_size(limit: int) -> int:
    """Units a replica takes from Redis at once: 1 for small limits (exact), at most 1% of
    the limit (at most 100) otherwise, so a replica answers most requests without Redis."""
    return max(1, min(MAX_LEASE, limit // 100))


class RateLimiter:
    """Principals' budgets are taken from Redis in small leases (never more than the limit
    in total: the script caps the counter); failed attempts are counted one by one.

    A replica asks Redis for one lease of a key at a time: requests that arrive while it is
    on its way wait for it and share it, so a burst of one token's requests takes the leases
    it uses, not one lease per request (each overwriting the last and wasting its units). A
    window Redis says is used up stays used up until it resets (the counter never goes down),
    so the refusals of an exhausted principal cost no round trip either."""

    def __init__(self, redis: Redis, max_leases: int = 100_000) -> None:
        self._script: AsyncScript = load_scripts(redis, LUA_DIR)["fixed_window"]
        self._leases: dict[str, _Lease] = {}
        self._fetching: dict[str, asyncio.Event] = {}
        self._max_leases = max_leases

    async def _run(self, key: str, wanted: int, cap: int) -> tuple[int, int, int]:
        count, ttl, granted = await self._script(keys=[key], args=[WINDOW_MS, wanted, cap])
        return int(count), int(ttl), int(granted)

    def leased(self, key: str, limit: int) -> tuple[bool, Window] | None:
        """:meth:`admit` answered from this replica's lease, without Redis and without an
        await (the hot path), or None when Redis must be asked."""
        lease = self._leases.get(key)
        if lease is None or lease.limit != limit:
            return None
        now = time.monotonic()
        if lease.until <= now:
            return None
        reset_ms = int((lease.until - now) * 1000)
        if lease.units:
            lease.units -= 1
            return True, Window(limit, lease.count - lease.units, reset_ms)
        if lease.count >= limit:
            return False, Window(limit, limit, reset_ms)
        return None

    async def admit(self, key: str, limit: int) -> tuple[bool, Window]:
        """Takes one unit of ``key``'s budget: (admitted?, the window for the headers)."""
        while True:
            found = self.leased(key, limit)
            if found is not None:
                return found
            fetching = self._fetching.get(key)
            if fetching is None:
                break
            await fetching.wait()
        fetched = self._fetching[key] = asyncio.Event()
        try:
            count, ttl, granted = await self._run(key, lease_size(limit), limit)
        finally:
            del self._fetching[key]
            fetched.set()
        if len(self._leases) >= self._max_leases:
            self._leases.clear()
        until = time.monotonic() + ttl / 1000
        if granted == 0:
            self._leases[key] = _Lease(0, max(count, limit), limit, until)
            return False, Window(limit, max(count, limit), ttl)
        self._leases[key] = _Lease(granted - 1, count, limit, until)
        return True, Window(limit, count - (granted - 1), ttl)

    async def hit(self, key: str, limit: int) -> Window:
        """Counts one event against ``key`` (no cap); over ``limit`` when ``count > limit``."""
        count, ttl, _ = await self._run(key, 1, -1)
        return Window(limit, count, ttl)

    async def peek(self, key: str, limit: int) -> Window:
        count, ttl, _ = await self._run(key, 0, -1)
        return Window(limit, count, ttl)


class BlockedClients:
    """Addresses this replica has seen over the failure limit, until their window resets:
    their next failures are answered 429 without asking Redis."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._until: dict[str, tuple[float, Window]] = {}
        self._max = max_entries

    def block(self, address: str, window: Window) -> None:
        if len(self._until) >= self._max:
            self._until.clear()
        self._until[address] = (time.monotonic() + window.reset_ms / 1000, window)

    def blocked(self, address: str) -> Window | None:
        entry = self._until.get(address)
        if entry is None:
            return None
        until, window = entry
        remaining_ms = int((until - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            del self._until[address]
            return None
        return Window(limit=window.limit, count=window.count, reset_ms=remaining_ms)
