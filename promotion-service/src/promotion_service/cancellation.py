"""Whether the current task was asked to stop."""

from __future__ import annotations

import asyncio


def stopping() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def check_stopping() -> None:
    """Raise CancelledError when the current task was cancelled, even if a library turned
    the cancellation into another error on its way up (a worker loop that retries on such
    errors would otherwise never stop)."""
    if stopping():
        raise asyncio.CancelledError
