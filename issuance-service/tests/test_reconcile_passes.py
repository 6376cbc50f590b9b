"""The periodic reconciler at volume: a pass checks the series issued from since the pass
before and a slice of the slow full sweep, reads counters by name, and takes a series' lock
only to repair a difference it saw."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
from coupon_core import redis_keys
from coupon_core.reconcile import ReconcileMetrics
from issuance_service.db import series as series_db
from issuance_service.usecases.reconcile import reconcile_metrics
from issuance_service.workers.reconciler import Reconciler
from prometheus_client import CollectorRegistry

from . import test_reconcile as base
from .test_reconcile import Stores

stores = base.stores  # the fixture


def _reconciler(stores: Stores, metrics: ReconcileMetrics, *, passes: float = 0) -> Reconciler:
    """No margin (a pass sees what committed after the one before started); a full sweep
    every ``passes`` passes (0: none within a test)."""
    return Reconciler(
        stores.pool,
        stores.redis,
        stores.scripts,
        metrics,
        interval_s=60,
        full_sweep_h=passes * 60 / 3600 if passes else 720,
        margin_s=0,
    )


def _checked(metrics: ReconcileMetrics) -> dict[str, float]:
    found = {k: metrics.checked.labels(k)._value.get() for k in ("changed", "sweep")}
    found["keys"] = metrics.keys_checked._value.get()
    return found


async def _series(
    api: Any, new_series: Callable[..., dict[str, Any]], n: int, stores: Stores, *, idle: bool
) -> list[int]:
    """``n`` series, each with one coupon issued to customer 100 (an hour ago if ``idle``)."""
    ids = []
    for _ in range(n):
        series = await (await api.post("/v2/coupon/series", json=new_series())).json()
        ids.append(int(series["id"]))
        assert await base._issue(api, ids[-1], "100") == 200
    if idle:
        await stores.pool.execute(
            "UPDATE issued_coupons SET issued_at = issued_at - interval '1 hour'"
        )
    return ids


def _total(series_id: int) -> str:
    return redis_keys.issued_total(redis_keys.group_ref(redis_keys.SERIES, series_id))


async def test_a_pass_over_idle_series_checks_none_of_them(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores
) -> None:
    ids = await _series(api, new_series, 3, stores, idle=True)
    metrics = reconcile_metrics(CollectorRegistry())
    reconciler = _reconciler(stores, metrics)
    for series_id in ids:
        await stores.redis.set(_total(series_id), 5)  # not this pass's to see: the sweep's

    assert await reconciler.run_pass() == 0
    assert _checked(metrics) == {"changed": 0, "sweep": 0, "keys": 0}
    assert [await stores.get(_total(s)) for s in ids] == ["5"] * 3


async def test_drift_of_a_series_just_issued_from_is_repaired_by_the_next_pass(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores
) -> None:
    busy, idle = await _series(api, new_series, 2, stores, idle=True)
    metrics = reconcile_metrics(CollectorRegistry())
    reconciler = _reconciler(stores, metrics)
    await reconciler.run_pass()
    assert await base._issue(api, busy, "200") == 200
    customer = str(await base._customer_id(api, "200"))
    group = redis_keys.group_ref(redis_keys.SERIES, busy)
    await stores.redis.incrby(redis_keys.issued_to_customer(group, customer), 3)  # drift 3
    await stores.redis.incrby(_total(busy), 1)  # drift 1
    await stores.redis.set(_total(idle), 4)  # drift 3, in an idle series

    assert await reconciler.run_pass() == 4
    assert _checked(metrics)["changed"] == 1
    assert await stores.get(_total(busy)) == "2"
    assert await stores.get(redis_keys.issued_to_customer(group, customer)) == "1"
    assert await stores.get(_total(idle)) == "4"  # the sweep's


async def test_drift_of_an_idle_series_is_repaired_by_the_full_sweep(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores
) -> None:
    ids = await _series(api, new_series, 3, stores, idle=True)
    metrics = reconcile_metrics(CollectorRegistry())
    reconciler = _reconciler(stores, metrics, passes=3)  # one series a pass
    await reconciler.run_pass()
    await stores.redis.set(_total(ids[1]), 3)  # drift 2

    repaired = []
    for _ in ids:
        repaired.append(await reconciler.run_pass())
        assert _checked(metrics)["sweep"] == 1
    assert sorted(repaired) == [0, 0, 2]
    assert await stores.get(_total(ids[1])) == "1"


async def test_a_check_that_finds_no_drift_never_waits_for_an_issue(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores, database_url: str
) -> None:
    """An issue between its take and its commit holds its series' lock shared: a check
    that takes the exclusive lock would wait for it (and stop the issues behind it)."""
    ids = await _series(api, new_series, 2, stores, idle=False)
    metrics = reconcile_metrics(CollectorRegistry())
    reconciler = _reconciler(stores, metrics, passes=1)  # every series, every pass
    issuing = await asyncpg.connect(database_url)
    try:
        async with issuing.transaction():
            for series_id in ids:
                await issuing.execute(
                    "SELECT pg_advisory_xact_lock_shared($1, $2)",
                    series_db.LOCK_NAMESPACE,
                    series_id,
                )
            assert await asyncio.wait_for(reconciler.run_pass(), timeout=60) == 0
        # Changed: the total and one customer's two counters; swept: the same, in full.
        assert _checked(metrics) == {"changed": 2, "sweep": 2, "keys": 2 * 3 * 2}
        assert metrics.locked._value.get() == 0
    finally:
        await issuing.close()
