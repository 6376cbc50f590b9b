"""What ``make bench-data`` measures on the seeded stack besides throughput: sizes in
PostgreSQL and Redis, a cold counter rebuild of the promotion with the most redemptions, and
the retention pass under load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from coupon_core import redis_keys
from coupon_dev.stack import Stack
from redemption_service.db import ledger
from redis.asyncio import Redis

from bench.cases import AUTH, Case, _redeem_json
from bench.load import LoadResult
from bench.seed import BIG, Volume, database

MIB = 2**20
RECONCILE_LIMIT_S = 600
T = TypeVar("T")

# (service, table): what grows with redemptions.
GROWING = (
    ("redemption", "redemptions"),
    ("redemption", "outbox"),
    ("redemption", "idempotency_keys"),
    ("redemption", "processed_events"),
    ("issuance", "processed_events"),
    ("promotion", "processed_events"),
)

# The relations of a table: its partitions when it is partitioned, else itself
# (pg_partition_tree lists nothing for a plain table).
_TREE = """
WITH tree AS (
    SELECT relid, isleaf FROM pg_partition_tree($1::regclass)
    UNION ALL
    SELECT $1::regclass, true WHERE NOT EXISTS (SELECT FROM pg_partition_tree($1::regclass))
)
"""
_TABLE = (
    _TREE
    + """
SELECT coalesce(sum(pg_table_size(relid)), 0) AS heap,
       coalesce(sum(pg_indexes_size(relid)), 0) AS indexes,
       count(*) FILTER (WHERE isleaf) AS leaves,
       (SELECT coalesce(sum(c.reltuples), 0)::bigint FROM tree t JOIN pg_class c ON c.oid = t.relid
        WHERE t.isleaf AND c.reltuples > 0) AS rows
FROM tree
"""
)
_INDEXES = (
    _TREE
    + """
SELECT coalesce(pg_partition_root(i.indexrelid), i.indexrelid)::regclass::text AS name,
       sum(pg_relation_size(i.indexrelid)) AS size
FROM pg_index i JOIN tree t ON t.relid = i.indrelid
GROUP BY 1 ORDER BY 2 DESC
"""
)


@dataclass
class Size:
    service: str
    table: str
    rows: int
    heap: int
    indexes: int
    leaves: int
    by_index: list[tuple[str, int]] = field(default_factory=list)


async def pg_sizes(stack: Stack) -> list[Size]:
    sizes = []
    for service, table in GROWING:
        conn = await asyncpg.connect(database(stack.database_url, service))
        try:
            # Rows are the planner's estimates: counting 10 M rows takes longer than the bench.
            row = await conn.fetchrow(_TABLE, table)
            assert row is not None
            indexes = [(r["name"], int(r["size"])) for r in await conn.fetch(_INDEXES, table)]
        finally:
            await conn.close()
        sizes.append(
            Size(
                service,
                table,
                int(row["rows"]),
                int(row["heap"]),
                int(row["indexes"]),
                int(row["leaves"]),
            )
        )
        sizes[-1].by_index = indexes
    return sizes


async def key_usage(redis: Redis, samples: dict[str, list[str]]) -> dict[str, float]:
    """Mean ``MEMORY USAGE`` (bytes) of the sample keys of each family."""
    usage = {}
    for family, keys in samples.items():
        found = [await redis.memory_usage(key, samples=0) for key in keys]
        present = [n for n in found if n is not None]
        usage[family] = statistics.mean(present) if present else float("nan")
    return usage


def key_samples(volume: Volume, n: int = 20) -> dict[str, list[str]]:
    big_codes = [f"PC{volume.limited + volume.others + 1 + i:010d}" for i in range(n)]
    issued = [(j, f"SI{j + 1:010d}") for j in range(n)]
    promo_customers = [str(1 + (i * 10 * 104729) % volume.customers) for i in range(n)]
    return {
        "coupon facts (promotion)": [redis_keys.coupon_facts(f"P:{BIG}", c) for c in big_codes],
        "coupon facts (series)": [
            redis_keys.coupon_facts(f"S:{1 + j % volume.series}", c) for j, c in issued
        ],
        "code registry": [redis_keys.code_owner(c) for c in big_codes],
        "customer index (id)": [redis_keys.customer_index("id", str(i + 1)) for i in range(n)],
        "customer index (mobile)": [
            redis_keys.customer_index("mobile", f"9{i:09d}") for i in range(n)
        ],
        "counter r:coupon (after rebuild)": [
            redis_keys.redeemed_coupon(f"P:{BIG}", c) for c in big_codes
        ],
        "counter r:cust (after rebuild)": [
            redis_keys.redeemed_by_customer(f"P:{BIG}", c) for c in promo_customers
        ],
    }


async def forget_counters(redis: Redis, group: str) -> int:
    """Delete every redemption counter of ``group`` and its warm marker; how many keys."""
    deleted, batch = 0, []
    async for key in redis.scan_iter(match=redis_keys.group_keys_pattern(group, "r"), count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            deleted += await redis.unlink(*batch)
            batch = []
    if batch:
        deleted += await redis.unlink(*batch)
    return deleted


def post_redeem(stack: Stack, code: str, customer: int) -> tuple[float, int]:
    """Seconds a redeem through the gateway took, and its item status code."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        stack.gateway_url + "/v1.1/coupon/redeem",
        method="POST",
        data=_redeem_json(code, customer).encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
            body = json.load(response)
    except urllib.error.HTTPError as exc:  # reported with the results: HTTP 503 -> -503
        return time.perf_counter() - started, -exc.code
    elapsed = time.perf_counter() - started
    return elapsed, int(body["response"]["coupons"]["coupon"]["item_status"]["code"])


@contextlib.contextmanager
def load_in_background(
    case: Case, wrk: str | None, seconds: float, rate: float
) -> Iterator[list[LoadResult]]:
    """``case`` at a fixed ``rate`` for ``seconds`` in a thread while the block runs; the
    result is in the yielded list once the block is left."""
    out: list[LoadResult] = []
    thread = threading.Thread(target=lambda: out.append(case.measure(wrk, seconds, rate=rate)))
    thread.start()
    try:
        yield out
    finally:
        thread.join()


@dataclass
class Rebuild:
    keys_deleted: int
    alone_s: float
    under_load_s: float
    statuses: list[int]
    sql_s: float
    live_rows: int
    explain: list[str]
    slowest_redis_us: list[tuple[str, int]]
    others_p99_base: float
    others_p99_during: float
    others_errors: int
    window_s: float


async def _profile_sql(stack: Stack, group: str) -> tuple[float, int, list[str]]:
    conn = await asyncpg.connect(database(stack.database_url, "redemption"))
    try:
        query = ledger.COUNTER_VALUES  # what a cold rebuild reads, through a cursor
        started = time.perf_counter()
        rows = await conn.fetch(query, group)
        elapsed = time.perf_counter() - started
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", group)
    finally:
        await conn.close()
    return elapsed, len(rows), [r[0] for r in plan]


def _on_redis(stack: Stack, use: Callable[[Redis], Awaitable[T]]) -> T:
    async def run() -> T:
        redis: Redis = Redis.from_url(stack.redis_url)
        try:
            return await use(redis)
        finally:
            await redis.aclose()

    return asyncio.run(run())


async def _slowlog(redis: Redis) -> list[tuple[str, int]]:
    entries = await redis.slowlog_get(10)
    out = []
    for entry in entries:
        command = entry.get("command", b"")
        name = command.decode(errors="replace") if isinstance(command, bytes) else str(command)
        out.append((name.split(" ")[0][:20], int(entry["duration"])))
    return sorted(out, key=lambda x: -x[1])[:3]


def cold_rebuild(
    stack: Stack, volume: Volume, others: Case, wrk: str | None, seconds: float, rate: float
) -> Rebuild:
    """Time the first redeem of SEED-BIG after its counters are gone, alone and while
    ``others`` (another group's coupons) run at ``rate``; their p99 with and without it."""
    group = f"P:{BIG}"
    first_big = volume.limited + volume.others + 1

    async def forget_and_reset(redis: Redis) -> int:
        deleted = await forget_counters(redis, group)
        await redis.slowlog_reset()
        return deleted

    def forget() -> int:
        return _on_redis(stack, forget_and_reset)

    forget()
    alone, status_alone = post_redeem(stack, f"PC{first_big:010d}", 1)
    keys = forget()

    window = max(seconds, round(alone * 2) + 3)
    with load_in_background(others, wrk, window, rate) as base:
        pass
    forget()
    with load_in_background(others, wrk, window, rate) as during:
        time.sleep(1.0)  # the load is under way before the rebuild starts
        under_load, status_load = post_redeem(stack, f"PC{first_big + 1:010d}", 2)
    slowest = _on_redis(stack, _slowlog)
    sql_s, live_rows, plan = asyncio.run(_profile_sql(stack, group))

    return Rebuild(
        keys,
        alone,
        under_load,
        [status_alone, status_load],
        sql_s,
        live_rows,
        plan,
        slowest,
        base[0].p99_ms,
        during[0].p99_ms,
        during[0].errors,
        window,
    )


@dataclass
class RetentionRun:
    removed: dict[str, float]
    seconds: float
    p99_base: float
    p99_during: float
    errors: int


def _removed(stack: Stack) -> dict[str, float]:
    """``retention_removed_total`` by job, summed over the services' processes."""
    totals: dict[str, float] = {}
    for process in stack.all_processes():
        if process.name == "gateway":
            continue
        with urllib.request.urlopen(process.url + "/metrics", timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith("retention_removed_total{"):
                labels, value = line.rsplit(" ", 1)
                job = labels.split('task="', 1)[1].split('"', 1)[0]
                name = f"{process.name.split('-')[0]} {job}"
                totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def _restart(stack: Stack, env: dict[str, str], cases: list[Case]) -> None:
    """The redemption service (which holds the volume) again with ``env``."""
    for process in stack.services["redemption"]:
        process.stop()
        process.env.update(env)
        process.start()
    for process in stack.services["redemption"]:
        process.wait_ready()
    pids = {p.name: p.proc.pid for p in stack.all_processes() if p.proc is not None}
    for case in cases:
        case.pids = pids


def retention_under_load(
    stack: Stack, case: Case, wrk: str | None, seconds: float, rate: float, cases: list[Case]
) -> RetentionRun:
    """``case`` at ``rate`` without retention, then with the redemption service restarted
    with a 1 s retention interval (the seeded stack runs it once a day), ``seconds`` each."""
    with load_in_background(case, wrk, seconds, rate) as base:
        pass
    _restart(stack, {"RETENTION_INTERVAL_S": "1"}, cases)
    started = time.monotonic()
    with load_in_background(case, wrk, seconds, rate) as during:
        pass
    elapsed = time.monotonic() - started
    # The counters started from zero with the processes: what they hold is this pass.
    after = _removed(stack)
    _restart(stack, {"RETENTION_INTERVAL_S": "86400"}, cases)
    return RetentionRun(after, elapsed, base[0].p99_ms, during[0].p99_ms, during[0].errors)


@dataclass
class Reconcile:
    seconds: float
    returncode: int
    slowest_redis_us: list[tuple[str, int]]


def reconcile_pass(stack: Stack) -> Reconcile:
    """One ``python -m redemption_service reconcile``, the on-demand full reconcile: every
    group's counters compared with the whole ledger, stray counters found by one SCAN."""
    _on_redis(stack, lambda redis: redis.slowlog_reset())
    process = stack.services["redemption"][0]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "redemption_service", "reconcile"],
            env=process.env,
            capture_output=True,
            check=False,
            timeout=RECONCILE_LIMIT_S,
        )
        returncode = done.returncode
    except subprocess.TimeoutExpired:
        returncode = -1  # stopped: reported as not finished within the limit
    elapsed = time.perf_counter() - started
    return Reconcile(elapsed, returncode, _on_redis(stack, _slowlog))
