"""Faults under bounded load: a service replica or the gateway killed with SIGKILL, Redis
restarted empty, PostgreSQL killed and restarted, the network between a process and
PostgreSQL or Redis cut or slowed (FaultProxy).

Each scenario sends a bounded number of writes (API tokens, which the gateway stores in
PostgreSQL) and reads (a service family through the gateway) while the fault is injected a
third of the way in and healed at two thirds. Afterwards: no acknowledged write lost, no
write happened twice, nothing written that nobody asked for, and the stack serves again; the
time it took is printed, never asserted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiohttp
import pytest
from coupon_core.embedded import free_port
from coupon_core.stack import GATEWAY, SERVICES, Stack, with_database
from support.faultproxy import FaultProxy
from support.history import History, Outcome, check_acknowledged_present, check_limit
from support.stacks import ADMIN_TOKEN, running_stack

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OPERATIONS = 120  # per scenario
CONCURRENCY = 6
REQUEST_TIMEOUT_S = 5.0
HEAL_DEADLINE_S = 60.0
PROBE = "/v2/coupon/series/fault-probe"
# Processes die with the *thread* that started them (PR_SET_PDEATHSIG), so restarts run on
# one thread that lives as long as the test session, never on a short-lived executor thread.
FAULT_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faults")


@dataclass
class FaultStack:
    stack: Stack
    proxies: dict[tuple[str, str], FaultProxy]  # (process name, "pg" | "redis") -> proxy


@pytest.fixture(scope="module")
def faulty() -> Iterator[FaultStack]:
    pg_port, redis_port = free_port(), free_port()
    proxies: dict[tuple[str, str], FaultProxy] = {}
    service_env: dict[str, dict[str, str]] = {}
    databases = {name: database for name, (_, database) in SERVICES.items()}
    databases[GATEWAY[0]] = GATEWAY[1]
    for name, database in databases.items():
        pg = proxies[(name, "pg")] = FaultProxy(pg_port).start()
        redis = proxies[(name, "redis")] = FaultProxy(redis_port).start()
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


async def _probe(session: aiohttp.ClientSession, url: str, h: History) -> None:
    start = time.monotonic()
    try:
        async with session.get(url + PROBE) as response:
            await response.read()
            outcome = _outcome(response.status) if response.status != 404 else Outcome.OK
    except (aiohttp.ClientError, TimeoutError):
        outcome = Outcome.INDETERMINATE
    h.record("probe", PROBE, start, outcome)


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
            return "" if response.status == 404 else f"read {response.status}"
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
        queue = list(names)

        async def worker() -> None:
            nonlocal done
            while queue:
                name = queue.pop()
                await _create_token(session, url, name, history)
                await _probe(session, url, history)
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
        healed_at = results[0]
        deadline = healed_at + HEAL_DEADLINE_S
        while problem := await _serves(session, stack, tag):
            assert time.monotonic() < deadline, f"{tag}: {HEAL_DEADLINE_S}s after heal: {problem}"
            await asyncio.sleep(0.05)  # polling for recovery, with a deadline
        recovered_s = time.monotonic() - healed_at
        async with session.get(f"{url}/api/v1/api-tokens") as response:
            assert response.status == 200
            stored = [t["name"] for t in (await response.json())["items"]]
    counts = Counter(stored)
    check_limit(history, "create_token", dict.fromkeys(names, 1), counts)
    check_acknowledged_present(history, "create_token", "name", stored)
    outcomes = Counter(o.outcome.value for o in history.of("create_token"))
    probes = Counter(o.outcome.value for o in history.of("probe"))
    print(
        f"\n{tag}: writes {dict(outcomes)}, reads {dict(probes)}; "
        f"serving again {recovered_s:.2f} s after the heal"
    )


async def test_service_replica_killed(faulty: FaultStack) -> None:
    replica = faulty.stack.services["issuance"][0]

    def restart() -> None:
        replica.start()
        replica.wait_ready()

    await _run_scenario(faulty, "kill-issuance", replica.kill, restart)


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
