"""``make bench-scaling``: the same redeem and issue load on three deployments of the stack,
one after the other on this machine, written to bench/SCALING.md:

* one replica of each service, single Redis (the baseline);
* two replicas of each service, single Redis;
* one replica of each service, a three-master Redis Cluster.

Each row reports peak throughput through the gateway, p50/p99 at 70% of that peak, and the
CPU every process spent per request, PostgreSQL and Redis included: the process that spends
the most is the bottleneck of that path. No result passes or fails.

    python -m bench.scaling [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psutil
from coupon_dev.embedded_cluster import EmbeddedRedisCluster
from coupon_dev.stack import Stack

from bench.cases import Case, machine, service_cases, start_stack
from bench.load import ensure_wrk, run_load

SCALING = Path(__file__).resolve().parent / "SCALING.md"
CASES = ("redeem, spread coupons", "issue")
DATA_SECTION = "## Data at volume"


@dataclass(frozen=True)
class Deployment:
    name: str
    replicas: int
    cluster: bool


DEPLOYMENTS = (
    Deployment("1 replica each, single Redis", 1, False),
    Deployment("2 replicas each, single Redis", 2, False),
    Deployment("1 replica each, Redis Cluster (3 masters)", 1, True),
)


def _listener_pid(port: int) -> int | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            pid: int | None = conn.pid  # psutil has no type information
            return pid
    return None


def store_pids(stack: Stack, cluster: EmbeddedRedisCluster | None) -> dict[str, list[int]]:
    """PostgreSQL (postmaster and every backend) and Redis (every node), by listening port."""
    assert stack.postgres is not None
    found: dict[str, list[int]] = {}
    postmaster = _listener_pid(stack.postgres.port)
    if postmaster is not None:
        parent = psutil.Process(postmaster)
        found["postgres"] = [postmaster, *(child.pid for child in parent.children())]
    redis_ports = (
        cluster.ports if cluster is not None else [stack.redis.port] if stack.redis else []
    )
    found["redis"] = [pid for port in redis_ports if (pid := _listener_pid(port)) is not None]
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@dataclass
class Row:
    deployment: str
    case: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: dict[str, float]  # per request, by process kind


def measure(
    deployment: Deployment, wrk: str | None, seconds: float, rounds: int, tmp: Path
) -> list[Row]:
    cluster = EmbeddedRedisCluster(tmp / "cluster") if deployment.cluster else None
    if cluster is not None:
        cluster.start()
    stack = start_stack(
        tmp / "stack",
        replicas=deployment.replicas,
        redis_url=cluster.url() if cluster is not None else None,
    )
    try:
        cases = {name: case for name, case in service_cases(stack).items() if name in CASES}
        # CPU by kind of process: every replica of a service counts as that service.
        kinds: dict[str, list[int]] = defaultdict(list)
        for process in stack.all_processes():
            if process.proc is not None:
                kinds[process.name.split("-")[0]].append(process.proc.pid)
        kinds.update(store_pids(stack, cluster))
        for case in cases.values():
            run_load(wrk, case.url, seconds=1, connections=8, headers=case.headers,
                     method=case.method, body=case.body, lua=case.lua)  # fmt: skip
        spent: dict[str, list[dict[str, float]]] = defaultdict(list)
        for _ in range(rounds):
            for case in cases.values():
                before = {kind: _cpu_seconds(pids) for kind, pids in kinds.items()}
                result = case.measure(wrk, seconds)
                spent[case.name].append(
                    {
                        kind: (_cpu_seconds(pids) - before[kind]) / max(1, result.requests) * 1e6
                        for kind, pids in kinds.items()
                    }
                )
                print(f"  {deployment.name}, {case.name}: {result.rps:.0f} req/s", flush=True)
        rows = []
        for case in cases.values():
            latency = case.measure(wrk, seconds, rate=0.7 * case.rps)
            rows.append(_row(deployment, case, latency.p50_ms, latency.p99_ms, spent[case.name]))
        return rows
    finally:
        stack.stop()
        if cluster is not None:
            cluster.stop()


def _row(
    deployment: Deployment,
    case: Case,
    p50_ms: float,
    p99_ms: float,
    spent: list[dict[str, float]],
) -> Row:
    kinds = spent[0].keys()
    cpu = {kind: sorted(s[kind] for s in spent)[len(spent) // 2] for kind in kinds}
    errors = sum(result.errors for result, _ in case.runs)
    return Row(deployment.name, case.name, case.rps, p50_ms, p99_ms, errors, cpu)


def report(rows: list[Row], seconds: float, rounds: int, wrk: str | None) -> list[str]:
    lines = [
        "## Throughput by deployment",
        "",
        f"Peak: 32 connections, {rounds} rounds of {seconds:.0f} s per case (median); "
        f"latency at 70% of that peak; load by {'wrk' if wrk else 'Python'}. CPU µs per "
        "request of every process of a kind (all replicas together), median round.",
        "",
        "| deployment | case | peak req/s | errors | p50 ms | p99 ms | CPU µs/request by process |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cpu = ", ".join(
            f"{kind} {us:.0f}" for kind, us in sorted(row.cpu_us.items(), key=lambda kv: -kv[1])
        )
        lines.append(
            f"| {row.deployment} | {row.case} | {row.rps:.0f} | {row.errors} | "
            f"{row.p50_ms:.2f} | {row.p99_ms:.2f} | {cpu} |"
        )
    by = {(row.deployment, row.case): row for row in rows}
    base, two, cluster = (d.name for d in DEPLOYMENTS)
    lines += [
        "",
        "## Ratios against one replica on a single Redis",
        "",
        "| case | two replicas / one | Redis Cluster / single Redis | CPU per request, total |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        one = by[(base, case)]
        total = sum(one.cpu_us.values())
        lines.append(
            f"| {case} | {by[(two, case)].rps / one.rps:.2f} | "
            f"{by[(cluster, case)].rps / one.rps:.2f} | {total:.0f} µs on one replica |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not (1 <= args.seconds <= 30 and 1 <= args.rounds <= 5):
        parser.error("keep it bounded: seconds 1..30, rounds 1..5")
    wrk = ensure_wrk()
    facts = machine()
    print("\n".join(facts), flush=True)
    rows: list[Row] = []
    for deployment in DEPLOYMENTS:
        print(f"... {deployment.name}", flush=True)
        with tempfile.TemporaryDirectory(prefix="coupon-scaling-") as tmp:
            rows += measure(deployment, wrk, args.seconds, args.rounds, Path(tmp))
    text = "\n".join(
        [
            "# Scaling results",
            "",
            "Command: `make bench-scaling` (`python -m bench.scaling`)",
            "",
            *facts,
            "",
            *report(rows, args.seconds, args.rounds, wrk),
            "",
        ]
    )
    print(text)
    # The section `make bench-data` writes (bench/data.py) is kept as it is.
    previous = SCALING.read_text() if SCALING.exists() else ""
    kept = previous.partition(DATA_SECTION)
    SCALING.write_text(text + ("\n" + kept[1] + kept[2] if kept[1] else ""))
    print(f"written to {SCALING}")


if __name__ == "__main__":
    main()
