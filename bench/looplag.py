"""Event-loop lag of each process over a run: ``event_loop_lag_seconds`` (coupon_core.looplag)
read from each process's /metrics before and after, the bucket counts subtracted."""

from __future__ import annotations

import math
import urllib.request

from coupon_dev.testing.prometheus import by_label


def lag_buckets(url: str) -> dict[float, float]:
    """Cumulative sample counts of ``event_loop_lag_seconds`` by upper bound (seconds)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
    except OSError:
        return {}
    return {float(le): n for le, n in by_label(text, "event_loop_lag_seconds_bucket", "le").items()}


def snapshot(urls: dict[str, str]) -> dict[str, dict[float, float]]:
    return {name: lag_buckets(url) for name, url in urls.items()}


def summary(before: dict[float, float], after: dict[float, float]) -> str:
    """``p99 ≤ X ms, max ≤ Y ms (n samples)`` over the samples taken between the two reads:
    the upper bounds of the buckets holding the 99th percentile and the largest sample."""
    delta = {le: after[le] - before.get(le, 0.0) for le in sorted(after)}
    total = delta.get(math.inf, 0.0)
    if not total:
        return "no samples"

    def bound(share: float) -> str:
        for le, count in delta.items():
            if count >= share * total:
                return "> 2500" if math.isinf(le) else f"{le * 1000:g}"
        return "?"

    return f"p99 ≤ {bound(0.99)} ms, max ≤ {bound(1.0)} ms ({total:.0f})"
