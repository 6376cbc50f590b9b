"""Rate limits per principal and failed-credential throttling per client address, in Redis.

Both are fixed one-minute windows kept by one Lua script, so every gateway replica sharing
the Redis enforces the same budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from coupon_core.errors import TooManyRequests
from coupon_core.scripts import load_scripts
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

WINDOW_MS = 60_000


def lua_dir() -> Path:
    """The gateway's scripts: inside the installed package, or ``gateway/lua`` in a checkout."""
    package_dir = Path(__file__).resolve().parent
    bundled = package_dir / "lua"
    return bundled if bundled.is_dir() else package_dir.parents[1] / "lua"


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


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self._script: AsyncScript = load_scripts(redis, lua_dir())["fixed_window"]

    async def _run(self, key: str, limit: int, cost: int) -> Window:
        count, ttl = await self._script(keys=[key], args=[WINDOW_MS, cost])
        return Window(limit=limit, count=int(count), reset_ms=int(ttl))

    async def hit(self, key: str, limit: int) -> Window:
        """Counts one request against ``key``; over ``limit`` when ``count > limit``."""
        return await self._run(key, limit, 1)

    async def peek(self, key: str, limit: int) -> Window:
        return await self._run(key, limit, 0)


def principal_key(kind: str, ident: str) -> str:
    return f"gw:rl:{{{kind}:{ident}}}"


def failures_key(address: str) -> str:
    return f"gw:authfail:{{{address}}}"


class BlockedClients:
    """Addresses this replica has seen over the failure limit, until their window resets.
    Checked before any credential, also ones served from the cache, so a right guess from
    a throttled address does not get through while its wrong guesses get 429."""

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
