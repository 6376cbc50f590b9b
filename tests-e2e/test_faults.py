"""Faults under bounded load: a service replica or the gateway killed with SIGKILL, Redis
restarted empty, PostgreSQL killed and restarted, the network between a process and
PostgreSQL or Redis cut or slowed (FaultProxy).

Each scenario sends a bounded number of operations (an API token created, a hot coupon
redeemed past its series' limit, a coupon issued past its series' limit) while the fault is
injected a third of the way in and healed at two thirds. Afterwards, against the ledgers read
from the services' databases: no limit exceeded, no acknowledged write lost, nothing written
that nobody asked for; after one reconcile every counter equals its ledger and numRedeemed
follows; and the stack serves again. The time it took is printed, never asserted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

import aiohttp
import asyncpg
import pytest
from coupon_dev.ports import free_port
from coupon_dev.stack import GATEWAY, SERVICES, Stack, with_database
from coupon_dev.testing.commands import run_command
from coupon_dev.testing.poll import until
from redis.asyncio import Redis
from support.api import call, item, mobile, redeem_body
from support.faultproxy import FaultProxy
from support.history import History, Outcome, check_acknowledged_present, check_limit
from support.stacks import ADMIN_TOKEN, running_stack

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OPERATIONS = 120  # per scenario
CONCURRENCY = 6
REQUEST_TIMEOUT_S = 5.0
HEAL_DEADLINE_S = 60.0
PROBE = "/v2/coupon/series?limit=1"
# Processes die with the *thread* that started them (PR_SET_PDEATHSIG), so restarts run on
# one thread that lives as long as the test session, never on a short-lived executor thread.
FAULT_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faults")


@dataclass
class FaultStack:
    stack: Stack
    proxies: dict[tuple[str, str], FaultProxy]  # (process name, "pg" | "redis") -> proxy


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultStack]:
    databases = {name: database for name, (_, database) in SERVICES.items()}
    databases[GATEWAY[0]] = GATEWAY[1]
    proxies = {
        (name, store): FaultProxy(target_port=0).start()
        for name in databases
        for store in ("pg", "redis")
    }
    # Picked while the proxies hold their ports, so that none of them can be one of these.
    pg_port, redis_port = free_port(), free_port()
    service_env: dict[str, dict[str, str]] = {}
    for name, database in databases.items():
        pg, redis = proxies[(name, "pg")], proxies[(name, "redis")]
        pg.target_port, redis.target_port = pg_port, redis_port
        service_env[name] = {
            "DATABASE_URL": with_database(
                f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", database
            ),
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        }
    try:
        with running_stack(
            replicas=2,
            service_env=service_env,
            postgres_port=pg_port,
            redis_port=redis_port,
            durable=True,  # a killed PostgreSQL must keep what it acknowledged
        ) as stack:
            yield FaultStack(stack, proxies)
    finally:
        for proxy in proxies.values():
            proxy.stop()


def _outcome(status: int) -> Outcome:
    if status < 300:
        return Outcome.OK
    if 400 <= status < 500 and status not in (408, 429):
        return Outcome.FAILED
    return Outcome.INDETERMINATE  # 5xx: it may or may not have happened


async def _create_token(session: aiohttp.ClientSession, url: str, name: str, h: History) -> None:
    start = time.monotonic()
    try:
        async with session.post(
            f"{url}/api/v1/api-tokens",
            json={"name": name, "whitelist": []},
        ) as response:
            body = await response.json(content_type=None)
            outcome = _outcome(response.status)
            result = {"name": name, "status": response.status}
            if outcome is Outcome.OK:
                result["id"] = body["id"]
    except (aiohttp.ClientError, TimeoutError):
        outcome, result = Outcome.INDETERMINATE, {"name": name, "status": 0}
    h.record("create_token", name, start, outcome, result)


@dataclass
class Workload:
    """A hot coupon of a series that may be redeemed ``REDEEM_LIMIT`` times in all, and a
    series that may issue ``ISSUE_LIMIT`` coupons: the load asks for more of both."""

    redeem_series: int
    hot_code: str
    customer_id: int
    issue_series: int


# Reached during or after the fault window (a third to two thirds of OPERATIONS).
REDEEM_LIMIT = 70
ISSUE_LIMIT = 80


async def _workload(session: aiohttp.ClientSession, url: str) -> Workload:
    series = {
        "description": "fault series",
        "discountType": "ABS",
        "discountValue": 10,
        "validTillDate": "2099-01-01T00:00:00Z",
    }
    _, redeem_series, _ = await call(
        session,
        "POST",
        f"{url}/v2/coupon/series",
        json={
            **series,
            "maxRedeem": REDEEM_LIMIT,
            "redemptionPerCouponMaxLimit": 1000,
            "sameUserMultipleRedeem": True,
            "anyUser": True,
        },
        expect=201,
    )
    _, issue_series, _ = await call(
        session,
        "POST",
        f"{url}/v2/coupon/series",
        json={**series, "maxCreate": ISSUE_LIMIT},
        expect=201,
    )
    _, customer, _ = await call(
        session, "POST", f"{url}/v2/customers", json={"mobile": mobile()}, expect=201
    )
    _, issued, _ = await call(
        session,
        "POST",
        f"{url}/v2/coupon/issue",
        json={"seriesId": redeem_series["id"], "customer": {"id": customer["id"]}},
        expect=200,
    )
    return Workload(redeem_series["id"], issued["code"], customer["id"], issue_series["id"])


async def _redeem(session: aiohttp.ClientSession, url: str, work: Workload, h: History) -> None:
    start = time.monotonic()
    result: dict[str, object] = {}
    try:
        async with session.post(
            f"{url}/v1.1/coupon/redeem",
            json=redeem_body(work.hot_code, {"id": work.customer_id}, amount="100"),
        ) as response:
            body = await response.json(content_type=None)
            outcome = _outcome(response.status)
            if outcome is Outcome.OK:
                redeemed = item(body)
                if redeemed["item_status"]["code"] == 700 and redeemed["redemption_id"]:
                    result["redemption_id"] = redeemed["redemption_id"]
                else:
                    outcome = Outcome.FAILED
    except (aiohttp.ClientError, TimeoutError):
        outcome = Outcome.INDETERMINATE
    h.record("redeem", work.hot_code, start, outcome, result)


async def _issue(session: aiohttp.ClientSession, url: str, work: Workload, h: History) -> None:
    start = time.monotonic()
    result: dict[str, object] = {}
    try:
        async with session.post(
            f"{url}/v2/coupon/issue",
            json={"seriesId": work.issue_series, "customer": {"mobile": mobile()}},
        ) as response:
            body = await response.json(content_type=None)
            outcome = _outcome(response.status)
            if outcome is Outcome.OK:
                result["code"] = body["code"]
    except (aiohttp.ClientError, TimeoutError):
        outcome = Outcome.INDETERMINATE
    h.record("issue", str(work.issue_series), start, outcome, result)


async def _ledgers(stack: Stack, work: Workload) -> tuple[list[str], list[str]]:
    """Live redemption ids of the hot coupon, codes issued from the issue series, read
    straight from the services' databases."""
    assert stack.postgres is not None
    redemption = await asyncpg.connect(with_database(stack.postgres.url(), "coupon_redemption"))
    issuance = await asyncpg.connect(with_database(stack.postgres.url(), "coupon_issuance"))
    try:
        redeemed = await redemption.fetch(
            "SELECT id FROM redemptions WHERE code = $1 AND reversed_at IS NULL", work.hot_code
        )
        issued = await issuance.fetch(
            "SELECT code FROM issued_coupons WHERE series_id = $1", work.issue_series
        )
    finally:
        await redemption.close()
        await issuance.close()
    return [str(r["id"]) for r in redeemed], [r["code"] for r in issued]


async def _redis_values(stack: Stack, *keys: str) -> list[bytes | None]:
    client = Redis.from_url(stack.redis_url)
    try:
        return [cast(bytes | None, await client.get(key)) for key in keys]
    finally:
        await client.aclose()


async def _check_counters_after_reconcile(
    session: aiohttp.ClientSession, stack: Stack, work: Workload, live: int
) -> None:
    _, body, _ = await call(
        session, "POST", f"{stack.gateway_url}/v2/coupon/redemptions/reconcile", expect=200
    )
    group = f"{{S:{work.redeem_series}}}"
    total, coupon = await _redis_values(
        stack, f"{group}:r:total", f"{group}:r:coupon:{work.hot_code}"
    )
    assert (int(total or 0), int(coupon or 0)) == (live, live), (
        f"counters {total!r}/{coupon!r} vs ledger {live} after reconcile {body}"
    )

    async def redeemed_count() -> int:
        _, series, _ = await call(
            session, "GET", f"{stack.gateway_url}/v2/coupon/series/{work.redeem_series}"
        )
        return int(series.get("numRedeemed", -1))

    await until(redeemed_count, "numRedeemed vs the ledger", limit_s=30, equals=live)


async def _check_issuance_counters_after_reconcile(
    stack: Stack, work: Workload, issued: int
) -> None:
    """One round of the issuance reconciler (its command, as an operator runs it), then the
    series' total counter equals its issued coupons, unless the series is cold (its next issue
    rebuilds it from them)."""
    out = await run_command("issuance_service", "reconcile", stack.services["issuance"][0].env)
    group = f"{{S:{work.issue_series}}}"
    warm, total = await _redis_values(stack, f"{group}:i:warm", f"{group}:i:issued")
    if warm is not None:
        assert int(total or 0) == issued, f"issued counter {total!r} vs ledger {issued}: {out}"


async def _serves(session: aiohttp.ClientSession, stack: Stack, tag: str) -> str:
    """Empty when every process is ready and a write and a read go through; else why not."""
    try:
        for process in stack.all_processes():
            async with session.get(f"{process.url}/readyz") as response:
                if response.status != 200:
                    return f"{process.name} /readyz {response.status}"
        async with session.post(
            f"{stack.gateway_url}/api/v1/api-tokens", json={"name": f"heal-{tag}-{time.time_ns()}"}
        ) as response:
            if response.status != 201:
                return f"write {response.status} {await response.text()}"
        async with session.get(stack.gateway_url + PROBE) as response:
            return "" if response.status == 200 else f"read {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return repr(exc)


async def _run_scenario(
    faulty: FaultStack, tag: str, inject: Callable[[], None], heal: Callable[[], None]
) -> None:
    stack = faulty.stack
    url = stack.gateway_url
    history = History()
    names = [f"fault-{tag}-{i}" for i in range(OPERATIONS)]
    done = 0
    injected, healed = asyncio.Event(), asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(headers=AUTH, timeout=timeout) as session:
        work = await _workload(session, url)
        queue = list(names)

        async def worker() -> None:
            nonlocal done
            while queue:
                name = queue.pop()
                await _create_token(session, url, name, history)
                await _redeem(session, url, work, history)
                await _issue(session, url, work, history)
                done += 1
                if done == OPERATIONS // 3:
                    injected.set()
                if done == 2 * OPERATIONS // 3:
                    healed.set()

        async def conductor() -> float:
            await injected.wait()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(FAULT_THREAD, inject)
            await healed.wait()
            await loop.run_in_executor(FAULT_THREAD, heal)
            return time.monotonic()

        results = await asyncio.gather(conductor(), *(worker() for _ in range(CONCURRENCY)))
        healed_at = cast(float, results[0])  # gather types a starred call by its join
        deadline = healed_at + HEAL_DEADLINE_S
        await until(
            lambda: _serves(session, stack, tag),
            f"{tag}: serving within {HEAL_DEADLINE_S}s of the heal",
            limit_s=deadline - time.monotonic(),
            equals="",
        )
        recovered_s = time.monotonic() - healed_at
        async with session.get(f"{url}/api/v1/api-tokens") as response:
            assert response.status == 200
            stored = [t["name"] for t in (await response.json())["items"]]
        counts = Counter(stored)
        check_limit(history, "create_token", dict.fromkeys(names, 1), counts)
        check_acknowledged_present(history, "create_token", "name", stored)
        redeemed, issued = await _ledgers(stack, work)
        check_limit(
            history, "redeem", {work.hot_code: REDEEM_LIMIT}, {work.hot_code: len(redeemed)}
        )
        check_acknowledged_present(history, "redeem", "redemption_id", redeemed)
        key = str(work.issue_series)
        check_limit(history, "issue", {key: ISSUE_LIMIT}, {key: len(issued)})
        check_acknowledged_present(history, "issue", "code", issued)
        await _check_counters_after_reconcile(session, stack, work, len(redeemed))
        await _check_issuance_counters_after_reconcile(stack, work, len(issued))
    summary = {
        kind: dict(Counter(o.outcome.value for o in history.of(kind)))
        for kind in ("create_token", "redeem", "issue")
    }
    print(
        f"\n{tag}: {summary}; ledger: {len(redeemed)} redeemed of {REDEEM_LIMIT}, "
        f"{len(issued)} issued of {ISSUE_LIMIT}; serving again {recovered_s:.2f} s after the heal"
    )


@pytest.mark.parametrize("service", ["issuance", "redemption"])
async def test_service_replica_killed(faulty: FaultStack, service: str) -> None:
    replica = faulty.stack.services[service][0]

    def restart() -> None:
        replica.start()
        replica.wait_ready()

    await _run_scenario(faulty, f"kill-{service}", replica.kill, restart)


async def test_gateway_killed(faulty: FaultStack) -> None:
    gateway = faulty.stack.gateway
    assert gateway is not None

    def restart() -> None:
        gateway.start()
        gateway.wait_ready()

    await _run_scenario(faulty, "kill-gateway", gateway.kill, restart)


async def test_redis_restarted_empty(faulty: FaultStack) -> None:
    redis = faulty.stack.redis
    assert redis is not None
    await _run_scenario(faulty, "redis-empty", redis.kill, redis.start)


async def test_postgres_killed_and_restarted(faulty: FaultStack) -> None:
    postgres = faulty.stack.postgres
    assert postgres is not None
    await _run_scenario(faulty, "postgres-kill", postgres.kill, postgres.start)


@pytest.mark.parametrize(
    ("process", "store", "fault"),
    [
        ("gateway", "pg", "cut"),
        ("gateway", "redis", "cut"),
        ("gateway", "pg", "delay"),
        ("gateway", "redis", "delay"),
        ("issuance", "pg", "cut"),
        ("issuance", "redis", "cut"),
        ("redemption", "pg", "cut"),
        ("redemption", "redis", "cut"),
        ("redemption", "pg", "delay"),
        ("redemption", "redis", "delay"),
    ],
)
async def test_network_fault(faulty: FaultStack, process: str, store: str, fault: str) -> None:
    proxy = faulty.proxies[(process, store)]

    def inject() -> None:
        if fault == "cut":
            proxy.cut()
        else:
            proxy.set_delay(0.2)

    def heal() -> None:
        proxy.restore()
        proxy.set_delay(0.0)

    await _run_scenario(faulty, f"{fault}-{process}-{store}", inject, heal)
