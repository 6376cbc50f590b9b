"""The reconciler: series counters that drifted from the issued coupons (a take neither
committed nor given back, a counter changed by hand) are set back to the ledger, and the
drift is exported; issues running meanwhile never exceed a limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import pytest
from coupon_core import redis_keys
from coupon_core.lifecycle import redis_from_url
from coupon_core.reconcile import ReconcileMetrics
from coupon_core.scripts import load_scripts
from coupon_dev.testing.commands import command_env, run_command
from issuance_service.app import LUA_DIR
from issuance_service.db import counters
from issuance_service.db import series as series_db
from issuance_service.usecases import reconcile
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis


@dataclass
class Stores:
    pool: asyncpg.Pool
    redis: Redis
    scripts: counters.Scripts

    async def reconcile(self, metrics: ReconcileMetrics | None = None) -> int:
        return await reconcile.reconcile(self.pool, self.redis, self.scripts, metrics)

    async def get(self, key: str) -> str | None:
        value = cast(bytes | None, await self.redis.get(key))
        return None if value is None else value.decode()

    async def issued(self, series_id: int) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT count(*) FROM issued_coupons WHERE series_id = $1", series_id
            )
        )


@pytest.fixture
async def stores(database_url: str, redis_url: str) -> AsyncIterator[Stores]:
    """The reconciler's own connections, next to the service's (as the command's)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    redis = cast(Redis, redis_from_url(redis_url))
    try:
        yield Stores(pool, redis, load_scripts(redis, LUA_DIR))
    finally:
        await redis.aclose()
        await pool.close()


async def _issue(api: Any, series_id: int, mobile: str) -> int:
    """200, or the Capillary error code (722: a limit)."""
    response = await api.post(
        "/v2/coupon/issue", json={"seriesId": series_id, "customer": {"mobile": mobile}}
    )
    if response.status == 200:
        return 200
    return int((await response.json())["errors"][0]["code"])


async def _customer_id(api: Any, mobile: str) -> int:
    found = await api.get("/v2/customers/lookup", params={"mobile": mobile})
    return int((await found.json())["id"])


async def test_drift_is_repaired_and_a_late_give_back_lands_nowhere(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores
) -> None:
    series = await (
        await api.post("/v2/coupon/series", json=new_series(maxCreate=4, maxVouchersPerUser=2))
    ).json()
    series_id, group = int(series["id"]), f"S:{series['id']}"
    assert await _issue(api, series_id, "100") == 200
    assert await _issue(api, series_id, "100") == 200
    ghost = await (await api.post("/v2/customers", json={"mobile": "200"})).json()
    # A process killed between its take and its commit: counted in Redis, not in PostgreSQL.
    async with stores.pool.acquire() as conn:
        found = await series_db.get(conn, series_id, counted=False)
    assert found is not None
    lost = await counters.take(
        stores.scripts,
        series=found,
        customer_id=int(ghost["id"]),
        count=1,
        now=datetime.now(UTC).replace(microsecond=0),
    )
    assert lost is not None
    regular = str(await _customer_id(api, "100"))
    await stores.redis.incrby(redis_keys.issued_to_customer(group, regular), 3)
    epoch = await stores.get(redis_keys.issuance_warm(group))
    metrics = reconcile.reconcile_metrics(CollectorRegistry())

    # Total 3 vs 2, the ghost's 1 vs none, the regular customer's 5 vs 2.
    assert await stores.reconcile(metrics) == 1 + 1 + 3
    assert metrics.drift._value.get() == 5

    assert await stores.get(redis_keys.issued_total(group)) == "2"
    assert await stores.get(redis_keys.issued_to_customer(group, regular)) == "2"
    ghost_id = str(ghost["id"])
    assert await stores.get(redis_keys.issued_to_customer(group, ghost_id)) is None
    assert await stores.get(redis_keys.last_issued_to_customer(group, ghost_id)) is None
    assert await stores.get(redis_keys.issuance_warm(group)) not in (None, epoch)
    # The killed process's give-back arrives late: the repaired counters are not touched.
    await counters.release(stores.scripts, lost)
    assert await stores.get(redis_keys.issued_total(group)) == "2"
    # The capacity the lost take held is back: two more issues, then the limit.
    assert [await _issue(api, series_id, m) for m in ("300", "400", "500")] == [200, 200, 722]
    assert await stores.issued(series_id) == 4
    assert await stores.reconcile(metrics) == 0
    assert metrics.drift._value.get() == 0


async def test_counters_that_agree_are_left_as_they_are(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    group = f"S:{series['id']}"
    for mobile in ("1", "2", "2"):
        assert await _issue(api, int(series["id"]), mobile) == 200
    epoch = await stores.get(redis_keys.issuance_warm(group))

    assert await stores.reconcile() == 0
    assert await stores.get(redis_keys.issuance_warm(group)) == epoch
    assert await stores.get(redis_keys.issued_total(group)) == "3"


async def test_a_cold_series_is_left_to_its_next_issue(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series(maxCreate=2))).json()
    series_id, group = int(series["id"]), f"S:{series['id']}"
    assert await _issue(api, series_id, "1") == 200
    await stores.redis.delete(redis_keys.issuance_warm(group), redis_keys.issued_total(group))

    assert await stores.reconcile() == 0
    assert await stores.get(redis_keys.issuance_warm(group)) is None
    # The next issue rebuilds from the ledger, so the limit still counts the first coupon.
    assert [await _issue(api, series_id, m) for m in ("2", "3")] == [200, 722]


async def test_issues_racing_reconciles_never_exceed_the_limit(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores
) -> None:
    limit, attempts = 15, 40
    series = await (await api.post("/v2/coupon/series", json=new_series(maxCreate=limit))).json()
    series_id, group = int(series["id"]), f"S:{series['id']}"
    assert await _issue(api, series_id, "warm-up") == 200
    done = asyncio.Event()

    async def reconcile_until_done() -> int:
        rounds = 0
        while not done.is_set():
            await stores.reconcile()
            rounds += 1
        return rounds

    async def issue(i: int) -> int:
        return await _issue(api, series_id, f"race-{i}")

    reconciler = asyncio.create_task(reconcile_until_done())
    try:
        statuses = await asyncio.gather(*(issue(i) for i in range(attempts)))
    finally:
        done.set()
        rounds = await reconciler
    assert rounds >= 1
    assert statuses.count(200) == limit - 1
    assert set(statuses) == {200, 722}
    assert await stores.issued(series_id) == limit
    assert await stores.get(redis_keys.issued_total(group)) == str(limit)
    assert await stores.reconcile() == 0


async def test_the_reconcile_command_prints_the_drift(
    api: Any, new_series: Callable[..., dict[str, Any]], stores: Stores, service_env: Any
) -> None:
    series = await (await api.post("/v2/coupon/series", json=new_series())).json()
    group = f"S:{series['id']}"
    assert await _issue(api, int(series["id"]), "1") == 200
    await stores.redis.incrby(redis_keys.issued_total(group), 2)
    out = await run_command(
        "issuance_service",
        "reconcile",
        command_env(service_env["database_url"], service_env["redis_url"]),
    )
    assert "drift repaired: 2" in out
    assert await stores.get(redis_keys.issued_total(group)) == "1"
