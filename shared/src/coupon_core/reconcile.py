"""What the two reconcilers share: the result of one check and the metrics of a pass.

The redemption-service compares its groups' counters with its ledger, the issuance-service
its series' counters with the coupons it issued (docs/redemption.md and docs/issuance.md,
"Reconciler"). Each pass checks what changed since the one before plus a slice of a
:class:`coupon_core.sweep.Sweep`; both export the same families under their own prefix
(docs/operations.md, "Metrics").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger(__name__)

# Why a group (or series) was checked: changed since the pass before, its turn in the
# slow full sweep, or an on-demand reconcile of all of them.
KINDS = ("changed", "sweep", "full")


@dataclass(frozen=True, slots=True)
class Checked:
    """One group's check: the drift it repaired, the counters it compared, and whether it
    took the group's exclusive lock (only a difference does)."""

    drift: int = 0
    keys: int = 0
    locked: bool = False


class ReconcileMetrics:
    """``<service>_counter_drift``, ``<service>_reconcile_<units>_checked`` and the rest.

    ``units`` names what a check covers (``groups``, ``series``). ``rebuilds`` counts the
    cold rebuilds a request waited for; it is exported only where ``counts_rebuilds``
    (the redemption-service's redeem path counts them)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        service: str,
        units: str,
        counts_rebuilds: bool = False,
    ) -> None:
        self.units = units
        self.drift = Gauge(
            f"{service}_counter_drift",
            f"Sum of |counter - ledger| over every {service} counter at the last reconcile.",
            registry=registry,
        )
        self.repaired = Counter(
            f"{service}_counter_drift_repaired",
            "Counter units the reconciler set back to what the ledger says.",
            registry=registry,
        )
        self.rebuilds = Counter(
            f"{service}_counter_rebuilds",
            f"Cold {units} whose counters were rebuilt from the ledger.",
            registry=registry if counts_rebuilds else None,
        )
        self.checked = Gauge(
            f"{service}_reconcile_{units}_checked",
            f"{units.capitalize()} the last reconcile pass compared with the ledger, by why: "
            "changed (activity since the pass before), sweep (the slow full sweep), full (an "
            "on-demand reconcile).",
            ["kind"],
            registry=registry,
        )
        self.keys_checked = Gauge(
            f"{service}_reconcile_keys_checked",
            "Counters the last reconcile pass read and compared with the ledger.",
            registry=registry,
        )
        self.locked = Counter(
            f"{service}_reconcile_locked",
            f"Checks that saw a difference and took the exclusive lock of their {units} to "
            "re-check and repair them (a check that sees none takes no lock).",
            registry=registry,
        )
        self.duration = Histogram(
            f"{service}_reconcile_duration_seconds",
            "How long one reconcile pass took.",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300),
            registry=registry,
        )


def report(
    metrics: ReconcileMetrics | None,
    results: Sequence[Checked],
    checked: Mapping[str, int],
    *,
    started: float,
    units: str,
) -> int:
    """The drift a pass repaired: exported with what it checked (``checked``: how many by
    kind, see :data:`KINDS`) and how long it took since ``started`` (``time.perf_counter``),
    and logged when there was any."""
    drift = sum(r.drift for r in results)
    if metrics is not None:
        metrics.drift.set(drift)
        metrics.repaired.inc(drift)
        for kind in KINDS:
            metrics.checked.labels(kind).set(checked.get(kind, 0))
        metrics.keys_checked.set(sum(r.keys for r in results))
        metrics.locked.inc(sum(r.locked for r in results))
        metrics.duration.observe(time.perf_counter() - started)
    if drift:
        log.warning("reconcile repaired drift of %d over %d %s", drift, len(results), units)
    return drift
