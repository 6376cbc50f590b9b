"""Event-loop lag: how late a periodic wake-up of the event loop comes.

A background task sleeps ``LOOP_LAG_INTERVAL_S`` and records, in the histogram
``event_loop_lag_seconds``, how much later than asked it woke: the time the loop spent on
other callbacks (a long synchronous step, a garbage-collection pause, a burst of ready
callbacks) that every request waiting in that process also waited. Started by every process
through :func:`coupon_core.web.build_app`.

Garbage-collection pauses, one cause of lag, are timed by a ``gc.callbacks`` hook and
recorded in ``gc_pause_seconds`` by generation (by the sampler: the hook itself only appends
to a bounded queue, as it may run while any lock is held).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from prometheus_client import Histogram

from coupon_core.keys import CORE_SETTINGS, METRICS


class GcTimer:
    """A ``gc.callbacks`` hook keeping the duration of each collection, by generation."""

    def __init__(self) -> None:
        self.started = 0.0
        self.pauses: deque[tuple[int, float]] = deque(maxlen=10_000)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self.started))

    def drain(self, histogram: Histogram) -> None:
        while self.pauses:
            generation, seconds = self.pauses.popleft()
            histogram.labels(generation=str(generation)).observe(seconds)


async def sample_lag(
    histogram: Histogram, interval_s: float, gc_timer: GcTimer, gc_histogram: Histogram
) -> None:
    """Forever: sleep ``interval_s``, record how late the wake-up came and the collections
    since the last one."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        histogram.observe(max(0.0, loop.time() - asked))
        gc_timer.drain(gc_histogram)


async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sampler for the application's lifetime (none at ``LOOP_LAG_INTERVAL_S=0``)."""
    interval_s = app[CORE_SETTINGS].loop_lag_interval_s
    if interval_s <= 0:
        yield
        return
    metrics, gc_timer = app[METRICS], GcTimer()
    gc.callbacks.append(gc_timer)
    task = asyncio.create_task(sample_lag(metrics.loop_lag, interval_s, gc_timer, metrics.gc_pause))
    try:
        yield
    finally:
        gc.callbacks.remove(gc_timer)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
