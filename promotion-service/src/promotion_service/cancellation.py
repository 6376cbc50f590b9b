"""Stopping background work reliably, whatever the libraries under it do with cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def stopping() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def check_stopping() -> None:
    """Raise CancelledError when the current task was cancelled, even if a library turned
    the cancellation into another error on its way up (a worker loop that retries on such
    errors would otherwise never stop)."""
    if stopping():
        raise asyncio.CancelledError


async def run_until_cancelled(work: Coroutine[Any, Any, None], *, name: str) -> None:
    """Run ``work`` as a task; when this one is cancelled, cancel it until it has stopped.

    A library can swallow a cancellation that lands at the wrong moment (on Python 3.11,
    ``asyncio.wait_for`` does when the awaited operation finishes at the same instant); a
    loop that retries on errors then runs on and shutdown waits for ever. Cancelling again
    lands at another await and stops it."""
    inner = asyncio.create_task(work, name=name)
    try:
        await asyncio.wait({inner})
    except asyncio.CancelledError:
        while not inner.done():
            inner.cancel()
            await asyncio.wait({inner}, timeout=0.2)
        raise
    inner.result()
