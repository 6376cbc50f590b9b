"""The periodic reconciler at volume: a pass checks what changed since the pass before and a
slice of the slow full sweep, reads counters by name, and takes a group's lock only to
repair a difference it saw."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from coupon_core import redis_keys
from coupon_core.keys import PG_POOL
from redemption_service.app import create_app
from redemption_service.db import activity, locks
from redemption_service.keys import COUNTERS, RECONCILE_METRICS
from redemption_service.settings import Settings
from redemption_service.usecases.rebuild import rebuild_group
from redemption_service.workers.reconciler import Reconciler
from redis.asyncio import Redis

from .conftest import coupon_in, post_signed, publish_customer, publish_group, redeem_body

REDEEM = "/v1.1/coupon/redeem"
GROUPS = [f"S:{n}" for n in range(81, 86)]


@pytest.fixture
async def served(aiohttp_server: Any, settings: Settings) -> tuple[web.Application, str]:
    app = create_app(settings)
    server = await aiohttp_server(app)
    return app, str(server.make_url("")).rstrip("/")


async def _redeem(http: aiohttp.ClientSession, base: str, code: str, mobile: str) -> None:
    status, body = await post_signed(http, base, REDEEM, redeem_body(coupon_in(code, mobile)))
    assert status == 200, body
    assert body["response"]["coupons"]["coupon"]["item_status"]["code"] == 700, body


async def _seed(redis: Redis, http: aiohttp.ClientSession, base: str) -> None:
    """Each group of GROUPS with one coupon (``K<n>``) redeemed once, by c-0."""
    await publish_customer(redis, "c-0", mobile="300")
    await publish_customer(redis, "c-1", mobile="301")
    for n, group in enumerate(GROUPS):
        await publish_group(redis, group, [f"K{n}"], coupon={"usage_limit": 10})
        await _redeem(http, base, f"K{n}", "300")


def _reconciler(app: web.Application, *, full_sweep_h: float = 720) -> Reconciler:
    # No margin: a pass sees exactly what committed after the previous one started.
    return Reconciler(
        app[PG_POOL],
        app[COUNTERS],
        app[RECONCILE_METRICS],
        interval_s=60,
        full_sweep_h=full_sweep_h,
        margin_s=0,
    )


def _checked(app: web.Application) -> dict[str, float]:
    metrics = app[RECONCILE_METRICS]
    found = {kind: metrics.checked.labels(kind)._value.get() for kind in ("changed", "sweep")}
    found["keys"] = metrics.keys_checked._value.get()
    return found


async def _count(redis: Redis, key: str) -> int:
    return int(await redis.get(key) or 0)


async def test_a_pass_over_idle_groups_checks_none_of_them(
    served: tuple[web.Application, str], redis: Redis, http: aiohttp.ClientSession
) -> None:
    app, base = served
    await _seed(redis, http, base)
    reconciler = _reconciler(app)
    assert await reconciler.run_pass() == 0  # the redeems above are its first changes
    assert _checked(app)["changed"] == len(GROUPS)

    # Drift in every group: not this pass's to see (the sweep's, in a day).
    for n, group in enumerate(GROUPS):
        await redis.set(redis_keys.redeemed_coupon(group, f"K{n}"), 7)
    assert await reconciler.run_pass() == 0
    assert _checked(app) == {"changed": 0, "sweep": 0, "keys": 0}
    for n, group in enumerate(GROUPS):
        assert await _count(redis, redis_keys.redeemed_coupon(group, f"K{n}")) == 7


async def test_drift_of_a_recently_redeemed_coupon_is_repaired_by_the_next_pass(
    served: tuple[web.Application, str], redis: Redis, http: aiohttp.ClientSession
) -> None:
    app, base = served
    await _seed(redis, http, base)
    reconciler = _reconciler(app)
    await reconciler.run_pass()
    busy, idle = GROUPS[0], GROUPS[1]
    await _redeem(http, base, "K0", "301")  # busy: K0 used twice now
    await redis.set(redis_keys.redeemed_coupon(busy, "K0"), 9)  # drift +7
    await redis.set(redis_keys.redeemed_by_customer(busy, "c-1"), 3)  # drift +2
    await redis.set(redis_keys.redeemed_coupon(idle, "K1"), 5)  # drift +4, in an idle group

    assert await reconciler.run_pass() == 9
    assert _checked(app)["changed"] == 1
    assert await _count(redis, redis_keys.redeemed_coupon(busy, "K0")) == 2
    assert await _count(redis, redis_keys.redeemed_by_customer(busy, "c-1")) == 1
    assert await _count(redis, redis_keys.redeemed_total(busy)) == 2
    # The idle group is the sweep's: not read by this pass.
    assert await _count(redis, redis_keys.redeemed_coupon(idle, "K1")) == 5


async def test_drift_of_an_idle_group_is_repaired_by_the_full_sweep(
    served: tuple[web.Application, str], redis: Redis, http: aiohttp.ClientSession
) -> None:
    app, base = served
    await _seed(redis, http, base)
    # A full sweep every five passes: one group a pass.
    reconciler = _reconciler(app, full_sweep_h=5 * 60 / 3600)
    await reconciler.run_pass()
    idle = GROUPS[3]
    await redis.set(redis_keys.redeemed_coupon(idle, "K3"), 6)  # drift +5
    await redis.set(redis_keys.redeemed_coupon_by_customer(idle, "K3", "c-0"), 0)  # drift 1

    repaired = []
    for _ in range(len(GROUPS)):
        repaired.append(await reconciler.run_pass())
        assert _checked(app)["sweep"] == 1
    assert sorted(repaired) == [0, 0, 0, 0, 6]
    assert await _count(redis, redis_keys.redeemed_coupon(idle, "K3")) == 1
    assert await _count(redis, redis_keys.redeemed_coupon_by_customer(idle, "K3", "c-0")) == 1


async def test_a_check_that_finds_no_drift_never_waits_for_a_redeem(
    served: tuple[web.Application, str],
    redis: Redis,
    http: aiohttp.ClientSession,
    database_url: str,
) -> None:
    """A redeem between its guard and its commit holds its group's lock shared: a check
    that takes the exclusive lock would wait for it (and stop the redeems behind it)."""
    app, base = served
    await _seed(redis, http, base)
    reconciler = _reconciler(app, full_sweep_h=60 / 3600)  # every group, every pass
    redeem = await asyncpg.connect(database_url)
    try:
        for group in GROUPS:
            await redeem.execute("SELECT pg_advisory_lock_shared($1)", locks.group_key(group))
        # Every group changed since the pass before and is due in the sweep.
        assert await asyncio.wait_for(reconciler.run_pass(), timeout=60) == 0
        # Four counters a group (total, coupon, customer, coupon-by-customer), read twice.
        assert _checked(app) == {"changed": 5, "sweep": 5, "keys": 2 * 4 * len(GROUPS)}
        assert app[RECONCILE_METRICS].locked._value.get() == 0
    finally:
        await redeem.close()


async def commands(redis: Redis, name: str) -> int:
    """Calls of a command Redis has served (summed over a cluster's nodes)."""
    found: dict[str, Any] = await redis.info("commandstats")
    if f"cmdstat_{name}" in found:
        return int(found[f"cmdstat_{name}"]["calls"])
    return sum(
        int(node.get(f"cmdstat_{name}", {}).get("calls", 0))
        for node in found.values()
        if isinstance(node, dict)
    )


async def test_a_cold_rebuild_and_a_pass_scan_nothing(
    served: tuple[web.Application, str], redis: Redis, http: aiohttp.ClientSession
) -> None:
    app, base = served
    await _seed(redis, http, base)
    group = GROUPS[2]
    await redis.delete(redis_keys.redemption_warm(group))  # cold: its next redeem rebuilds it
    await redis.set(redis_keys.redeemed_total(group), 4)
    reconciler = _reconciler(app, full_sweep_h=60 / 3600)
    scans = await commands(redis, "scan")
    assert await rebuild_group(app[PG_POOL], app[COUNTERS], group) == 3
    assert await _count(redis, redis_keys.redeemed_total(group)) == 1
    assert await reconciler.run_pass() == 0
    assert await commands(redis, "scan") == scans


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        (activity.CHANGED, "now() - interval '1 minute'"),
        (activity.SCOPED, "'S:1', '{K1}', '{c-1}', '{K1}', '{c-1}'"),
        (activity.GROUPS, ""),
    ],
    ids=["changed since", "scoped counters", "groups"],
)
async def test_what_a_pass_reads_is_served_by_indexes(
    served: tuple[web.Application, str], database_url: str, sql: str, args: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # Tables this small are cheaper to read whole: forbid that, to see whether an
        # index serves each read on each partition, as it must at volume.
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE q AS {sql}")
        execute = f"EXECUTE q({args})" if args else "EXECUTE q"
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {execute}"))
        assert "Seq Scan on redemptions_" not in plan, plan
    finally:
        await conn.close()
