"""Settling futures whose waiter may have given up (been cancelled) meanwhile."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


def resolve(future: asyncio.Future[T], value: T) -> None:
    """Set ``value`` unless the future is already settled or cancelled."""
    if not future.done():
        future.set_result(value)


def fail(future: asyncio.Future[T], exc: BaseException) -> None:
    """Fail the future with ``exc`` (cancel it, for a cancellation) unless it is settled."""
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
        return
    future.set_exception(exc)
    # The waiter may be gone: the exception is its to report, not the event loop's.
    future.exception()
