"""What the two reconcilers share: the periodic passes, the result of one check and the
metrics of a pass.

The redemption-service compares its groups' counters with its ledger, the issuance-service
its series' counters with the coupons it issued (docs/redemption.md and docs/issuance.md,
"Reconciler"). Each pass checks what changed since the one before plus a slice of a
:class:`coupon_core.sweep.Sweep` (:class:`PeriodicReconciler`); both export the same
families under their own prefix (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Generic, Protocol, TypeVar

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from coupon_core.db import Connection
from coupon_core.lifecycle import every
from coupon_core.sweep import Sweep

log = logging.getLogger(__name__)

G = TypeVar("G")  # what one check covers: a group ref, a series id
C = TypeVar("C")  # what changed in it since the pass before

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


class ReconcileTiming(Protocol):
    """The settings of a service's periodic reconciler."""

    @property
    def reconcile_interval_s(self) -> float: ...

    @property
    def reconcile_full_sweep_h(self) -> float: ...

    @property
    def reconcile_margin_s(self) -> float: ...


def timing(settings: ReconcileTiming) -> dict[str, float]:
    """A :class:`PeriodicReconciler`'s timing keywords from the service's settings."""
    return {
        "interval_s": settings.reconcile_interval_s,
        "full_sweep_h": settings.reconcile_full_sweep_h,
        "margin_s": settings.reconcile_margin_s,
    }


class PeriodicReconciler(ABC, Generic[G, C]):
    """One replica's periodic passes, every ``interval_s``. A pass checks what changed since
    the pass before started (``margin_s`` earlier, for commits in flight) and a slice of
    everything, so that a full sweep covers it all every ``full_sweep_h``; its cost follows
    what changed, not how much there is. A service says what changed, what there is and
    how to check one of them."""

    units: ClassVar[str]  # what a check covers, in the metrics and logs: groups, series
    # How coarse the change timestamps are: each window reaches back that much further.
    resolution: ClassVar[timedelta] = timedelta(0)

    def __init__(
        self,
        pool: asyncpg.Pool,
        metrics: ReconcileMetrics | None,
        *,
        interval_s: float,
        full_sweep_h: float,
        margin_s: float,
    ) -> None:
        self.pool, self.metrics = pool, metrics
        self.interval_s = interval_s
        self.margin = timedelta(seconds=margin_s) + self.resolution
        self.since: datetime | None = None
        self.sweep: Sweep[G] = Sweep(interval_s=interval_s, period_s=full_sweep_h * 3600)

    @abstractmethod
    async def changed_since(self, conn: Connection, since: datetime) -> Mapping[G, C]:
        """What changed since ``since`` (by the database's clock), and how."""

    @abstractmethod
    async def everything(self, conn: Connection) -> Iterable[G]:
        """Everything there is to check, for a new full sweep."""

    @abstractmethod
    async def check_changed(self, item: G, changes: C) -> Checked:
        """Check what ``changes`` touched in ``item``."""

    @abstractmethod
    async def check(self, item: G) -> Checked:
        """Check all of ``item``."""

    async def run_pass(self) -> int:
        """One pass; the drift it repaired."""
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            # The database's clock: the change timestamps are the database's too.
            now: datetime = await conn.fetchval("SELECT clock_timestamp()")
            since = self.since or now - self.margin - timedelta(seconds=self.interval_s)
            changed = await self.changed_since(conn, since)
            if self.sweep.exhausted:
                self.sweep.restart(await self.everything(conn))
        swept = self.sweep.take()
        results = [await self.check_changed(item, c) for item, c in changed.items()]
        results += [await self.check(item) for item in swept]
        self.since = now - self.margin
        checked = {"changed": len(changed), "sweep": len(swept)}
        return report(self.metrics, results, checked, started=started, units=self.units)

    async def run(self) -> None:
        """A pass every ``interval_s``, for ever (a background task)."""
        await every(self.interval_s, "reconcile", self.run_pass)
