"""Waiting in tests: poll a condition with a deadline, never sleep a guessed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.02


async def until(
    check: Callable[[], Awaitable[bool]], what: str = "the condition", limit_s: float = 20.0
) -> None:
    """Return once ``check()`` is true; fail the test if it is not within ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {limit_s}s"
        await asyncio.sleep(POLL_S)


def until_sync(
    check: Callable[[], bool], what: str = "the condition", limit_s: float = 20.0
) -> None:
    """:func:`until` for synchronous tests (a Hypothesis state machine driving HTTP)."""
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {limit_s}s"
        time.sleep(POLL_S)
