"""Event-loop lag: how late a periodic wake-up of the event loop comes.

A background task sleeps ``LOOP_LAG_INTERVAL_S`` and records, in the histogram
``event_loop_lag_seconds``, how much later than asked it woke: the time the loop spent on
other callbacks (a long synchronous step, a garbage-collection pause, a burst of ready
callbacks) that every request waiting in that process also waited. Started by every process
through :func:`coupon_core.web.build_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import Histogram

from coupon_core.keys import CORE_SETTINGS, METRICS


async def sample_lag(histogram: Histogram, interval_s: float) -> None:
    """Forever: sleep ``interval_s``, record how late the wake-up came."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        histogram.observe(max(0.0, loop.time() - asked))


async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sampler for the application's lifetime (none at ``LOOP_LAG_INTERVAL_S=0``)."""
    interval_s = app[CORE_SETTINGS].loop_lag_interval_s
    if interval_s <= 0:
        yield
        return
    task = asyncio.create_task(sample_lag(app[METRICS].loop_lag, interval_s))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
