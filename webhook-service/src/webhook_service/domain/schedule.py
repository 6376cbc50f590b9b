"""When a failed delivery is tried again, and when it is given up (docs/webhooks.md,
"Delivery, retries and safety").

The n-th failed attempt waits ``min(max_delay, base * 2**(n-1))``, less up to half of it at
random (so that the deliveries of one outage do not all come back at the same instant).
A delivery is retried until its first attempt is ``retry_window`` old; the attempt that
fails after that gives it up.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

# 2**60 seconds is past any max_delay; bounding the exponent keeps the float finite.
_MAX_EXPONENT = 60


def retry_delay(
    attempts: int,
    *,
    base_s: float,
    max_delay_s: float,
    jitter: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the first)."""
    exponent = min(max(attempts, 1) - 1, _MAX_EXPONENT)
    return float(min(max_delay_s, base_s * 2**exponent) * jitter(0.5, 1.0))


def next_attempt(
    *,
    attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    retry_window: timedelta,
    base_s: float,
    max_delay_s: float,
    jitter: Callable[[float, float], float] = random.uniform,
) -> datetime | None:
    """When to try again after a failed attempt made ``now``; None: give up (the retry
    window, counted from the first attempt, has passed)."""
    if now - first_attempt_at >= retry_window:
        return None
    delay = retry_delay(attempts, base_s=base_s, max_delay_s=max_delay_s, jitter=jitter)
    return now + timedelta(seconds=delay)


# Time for recording an outcome, in a claim's lease: at most this much, and at most a timeout.
LEASE_MARGIN_S = 5.0


def lease_margin(timeout_s: float) -> float:
    return min(LEASE_MARGIN_S, timeout_s)


def lease(timeout_s: float) -> timedelta:
    """How long a claim holds a delivery: its attempt may wait about one timeout for its
    endpoint's turn, then take one, and its outcome is recorded in the margin."""
    return timedelta(seconds=2 * timeout_s + lease_margin(timeout_s))


def may_start(lease_left_s: float, timeout_s: float) -> bool:
    """Whether an attempt may start with this much of its claim's lease left: a whole
    timeout, and half the margin to record its outcome in. Otherwise the claim could lapse
    mid-attempt and another deliverer attempt the delivery at the same time."""
    return lease_left_s >= timeout_s + lease_margin(timeout_s) / 2
