"""``make bench-data``: the cost of a redeem, an issue and a dry run with a year of traffic in
the tables, against an empty stack, side by side in one run; sizes per million; a cold
counter rebuild of a promotion with a tenth of the ledger; the retention pass under load.
Results go to bench/SCALING.md, section "Data at volume". No result passes or fails.

    python -m bench.data [--scale 1] [--seconds 4] [--rounds 2] [--no-write]
    python -m bench.data seed --database-url URL --redis-url URL [--scale S]

``--scale`` (or ``BENCH_DATA_SCALE``) shrinks every seeded count: 0.01 is 100,000 ledger
rows. ``seed`` fills a running stack whose tables are empty (bench/seed.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from coupon_dev.stack import Stack
from redis.asyncio import Redis

from bench.cases import Case, machine, service_cases, start_stack
from bench.data_report import (
    ANALYSIS,
    rebuild_report,
    reconcile_report,
    redis_report,
    retention_report,
    seed_report,
    size_report,
)
from bench.load import ensure_wrk, run_load
from bench.scaling import DATA_SECTION as SECTION
from bench.scaling import SCALING
from bench.seed import Volume, seed
from bench.volume import (
    cold_rebuild,
    key_samples,
    key_usage,
    pg_sizes,
    reconcile_pass,
    retention_under_load,
)

CASES = ("redeem, spread coupons", "dry run, spread coupons", "issue")
# Both stacks: retention once a day (the retention phase restarts the seeded one with 1 s);
# no periodic reconcile (a pass is timed on its own, and it would warm the counters the cold
# rebuild phase deletes).
QUIET = {"RETENTION_INTERVAL_S": "86400", "RECONCILE_INTERVAL_S": "0"}


def side_by_side(
    empty: Stack, seeded: Stack, wrk: str | None, seconds: float, rounds: int
) -> tuple[list[str], dict[str, dict[str, Case]]]:
    stacks = {"empty": empty, "seeded": seeded}
    cases = {
        label: {n: c for n, c in service_cases(stack).items() if n in CASES}
        for label, stack in stacks.items()
    }
    for label in stacks:
        for case in cases[label].values():
            run_load(wrk, case.url, seconds=1, connections=8, headers=case.headers,
                     method=case.method, body=case.body, lua=case.lua)  # fmt: skip
    for round_ in range(rounds):  # interleaved: machine noise hits both stacks alike
        for name in CASES:
            for label in stacks:
                result = cases[label][name].measure(wrk, seconds)
                print(f"  round {round_ + 1} {label} {name}: {result.rps:.0f} req/s", flush=True)
    p50: dict[tuple[str, str], list[float]] = {}
    p99: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for name in CASES:
            for label in stacks:
                case = cases[label][name]
                result = case.measure(wrk, seconds, rate=0.7 * case.rps)
                p50.setdefault((label, name), []).append(result.p50_ms)
                p99.setdefault((label, name), []).append(result.p99_ms)
    lines = [
        f"32 connections at peak, {rounds} rounds of {seconds:.0f} s per case and stack, "
        "interleaved (empty, seeded, empty, ...; medians); p50/p99 at 70 % of each stack's own "
        f"peak, {rounds} rounds (medians); load by {'wrk' if wrk else 'Python'}.",
        "",
        "| case | empty req/s | seeded req/s | throughput seeded/empty (goal >= 0.9) | "
        "empty p50 / p99 ms | seeded p50 / p99 ms | p99 seeded/empty (goal <= 1.2) | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in CASES:
        e, s = cases["empty"][name], cases["seeded"][name]
        ep50, sp50 = (statistics.median(p50[(x, name)]) for x in ("empty", "seeded"))
        ep99, sp99 = (statistics.median(p99[(x, name)]) for x in ("empty", "seeded"))
        errors = sum(r.errors for c in (e, s) for r, _ in c.runs)
        lines.append(
            f"| {name} | {e.rps:.0f} | {s.rps:.0f} | {s.rps / e.rps:.2f} | {ep50:.2f} / "
            f"{ep99:.2f} | {sp50:.2f} / {sp99:.2f} | {sp99 / ep99:.2f} | {errors} |"
        )
    return lines, cases


def write_section(text: str) -> None:
    """Replace (or append) the "Data at volume" section of bench/SCALING.md, keeping the
    others."""
    current = SCALING.read_text() if SCALING.exists() else ""
    head, found, tail = current.partition(SECTION)
    rest = ""
    if found:
        after = tail.split("\n## ", 1)
        rest = "\n## " + after[1] if len(after) == 2 else ""
    SCALING.write_text(head.rstrip() + "\n\n" + text.rstrip() + "\n" + rest)


def run(args: argparse.Namespace) -> str:
    wrk = ensure_wrk()
    facts = machine()
    print("\n".join(facts), flush=True)
    volume = Volume.at(args.scale)
    with tempfile.TemporaryDirectory(prefix="coupon-bench-data-") as tmp:
        print("... starting an empty stack and one to seed", flush=True)
        empty = start_stack(Path(tmp) / "empty", extra_env=QUIET)
        try:
            seeded = start_stack(Path(tmp) / "seeded", extra_env=QUIET)
        except BaseException:
            empty.stop()
            raise
        try:
            print(f"... seeding {volume}", flush=True)
            done = asyncio.run(seed(seeded.database_url, seeded.redis_url, volume))
            print("... sizes", flush=True)
            sizes = asyncio.run(pg_sizes(seeded))
            print("... side by side", flush=True)
            table, cases = side_by_side(empty, seeded, wrk, args.seconds, args.rounds)
            empty.stop()
            others = cases["seeded"]["redeem, spread coupons"]
            rate = 0.7 * others.rps
            print("... cold rebuild", flush=True)
            rebuild = cold_rebuild(seeded, volume, others, wrk, args.seconds, rate)
            usage = asyncio.run(_usage(seeded, volume))
            print("... one reconcile pass", flush=True)
            reconciled = reconcile_pass(seeded)
            print("... retention under load", flush=True)
            retention = retention_under_load(
                seeded, others, wrk, max(10.0, 2 * args.seconds), rate,
                list(cases["seeded"].values()),
            )  # fmt: skip
        except BaseException:
            _log_tails(seeded)
            raise
        finally:
            empty.stop()
            seeded.stop()
    return "\n".join(
        [
            SECTION,
            "",
            f"Command: `make bench-data` (`python -m bench.data --scale {args.scale:g}`)",
            "",
            *facts,
            "",
            "### Seeding",
            "",
            *seed_report(done),
            "",
            "### Empty stack vs seeded stack",
            "",
            *table,
            "",
            "### PostgreSQL size",
            "",
            *size_report(sizes, volume),
            "",
            "### Redis memory",
            "",
            *redis_report(done, volume, usage, rebuild.keys_deleted),
            "",
            "### Cold counter rebuild",
            "",
            *rebuild_report(rebuild, volume),
            "",
            "### Reconcile pass",
            "",
            *reconcile_report(reconciled, volume),
            "",
            "### Retention under load",
            "",
            *retention_report(retention),
            ANALYSIS,
        ]
    )


def _log_tails(stack: Stack) -> None:
    for process in stack.all_processes():
        tail = process.log_path.read_text(errors="replace")[-1500:]
        print(f"--- {process.name} log tail ---\n{tail}", file=sys.stderr)


async def _usage(stack: Stack, volume: Volume) -> dict[str, float]:
    redis: Redis = Redis.from_url(stack.redis_url)
    try:
        return await key_usage(redis, key_samples(volume))
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.data", description=__doc__)
    parser.add_argument("what", nargs="?", choices=["all", "seed"], default="all")
    parser.add_argument(
        "--scale", type=float, default=float(os.environ.get("BENCH_DATA_SCALE", "1"))
    )
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print, leave SCALING.md alone")
    parser.add_argument("--database-url", help="seed: the stack's PostgreSQL (any database)")
    parser.add_argument("--redis-url", help="seed: the stack's Redis")
    args = parser.parse_args()
    if not (0 < args.scale <= 1 and 1 <= args.seconds <= 30 and 1 <= args.rounds <= 5):
        parser.error("keep it bounded: scale 0..1, seconds 1..30, rounds 1..5")
    if args.what == "seed":
        if not (args.database_url and args.redis_url):
            parser.error("seed needs --database-url and --redis-url")
        started = time.monotonic()
        done = asyncio.run(seed(args.database_url, args.redis_url, Volume.at(args.scale)))
        print("\n".join(seed_report(done)))
        print(f"done in {time.monotonic() - started:.1f} s")
        return
    text = run(args)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"written to {SCALING}", file=sys.stderr)


if __name__ == "__main__":
    main()
