"""Retries: delays double from WEBHOOK_RETRY_BASE_S up to WEBHOOK_RETRY_MAX_DELAY_S, less up
to half at random; a delivery is retried until its first attempt is 72 hours old."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from webhook_service.domain.schedule import lease, may_start, next_attempt, retry_delay

BASE, MAX = 5.0, 21_600.0
WINDOW = timedelta(hours=72)
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def _top(low: float, high: float) -> float:
    return high


def _bottom(low: float, high: float) -> float:
    return low


def test_delays_double_up_to_the_maximum() -> None:
    delays = [retry_delay(n, base_s=BASE, max_delay_s=MAX, jitter=_top) for n in range(1, 16)]
    assert delays[:6] == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0]
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert delays[-1] == MAX
    assert retry_delay(10_000, base_s=BASE, max_delay_s=MAX, jitter=_top) == MAX


def test_jitter_takes_at_most_half() -> None:
    rng = random.Random(19)
    for attempts in range(1, 40):
        nominal = retry_delay(attempts, base_s=BASE, max_delay_s=MAX, jitter=_top)
        assert retry_delay(attempts, base_s=BASE, max_delay_s=MAX, jitter=_bottom) == nominal / 2
        for _ in range(20):
            delay = retry_delay(attempts, base_s=BASE, max_delay_s=MAX, jitter=rng.uniform)
            assert nominal / 2 <= delay <= nominal


def _next(first: datetime, attempts: int = 30) -> datetime | None:
    return next_attempt(
        attempts=attempts,
        first_attempt_at=first,
        now=NOW,
        retry_window=WINDOW,
        base_s=BASE,
        max_delay_s=MAX,
        jitter=_top,
    )


def test_still_retrying_just_before_the_window_ends() -> None:
    assert _next(NOW, attempts=1) == NOW + timedelta(seconds=5)
    assert _next(NOW - WINDOW + timedelta(seconds=1)) == NOW + timedelta(seconds=MAX)


def test_given_up_once_the_window_has_passed() -> None:
    assert _next(NOW - WINDOW) is None
    assert _next(NOW - WINDOW - timedelta(hours=1)) is None


def test_a_claim_outlasts_a_wait_for_its_turn_and_an_attempt() -> None:
    assert lease(10.0) == timedelta(seconds=25)
    assert lease(0.5) == timedelta(seconds=1.5)
    # An attempt starts only with a whole timeout (and time to record it) left.
    assert may_start(12.5, 10.0)
    assert not may_start(12.4, 10.0)
