"""Where the redeem tail at 70% load comes from: latency percentiles next to each process's
event-loop lag and garbage-collection pauses over the same run (issue 17, part 4).

    python -m bench.tail [--seconds 10] [--rounds 2] [--interval 0.005]
                         [--variant GC_FREEZE=false --variant GC_FREEZE=true]

Starts the stack (one per ``--variant``, side by side) with the lag sampler waking every
``--interval`` seconds (finer than the default, to catch short stalls), measures the spread
redeem's peak, then runs it at 70% of the lowest peak ``--rounds`` times on each stack in
turn, printing each run. Bounded, loopback only. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import urllib.request
from pathlib import Path

from coupon_dev.testing.prometheus import by_label

from bench.cases import Case, service_cases, start_stack
from bench.load import ensure_wrk
from bench.looplag import snapshot, summary


def gc_totals(url: str) -> dict[str, tuple[float, float]]:
    """Collections and seconds spent in them, by generation."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    counts = by_label(text, "gc_pause_seconds_count", "generation")
    sums = by_label(text, "gc_pause_seconds_sum", "generation")
    return {g: (counts.get(g, 0.0), sums.get(g, 0.0)) for g in counts.keys() | sums.keys()}


def report_round(
    case: Case, urls: dict[str, str], wrk: str | None, seconds: float, rate: float
) -> list[str]:
    lag_before, gc_before = snapshot(urls), {n: gc_totals(u) for n, u in urls.items()}
    result = case.measure(wrk, seconds, rate=rate)
    lag_after, gc_after = snapshot(urls), {n: gc_totals(u) for n, u in urls.items()}
    lines = [
        f"{result.rps:.0f} req/s p50 {result.p50_ms:.2f} p99 {result.p99_ms:.2f} "
        f"p99.9 {result.p999_ms:.2f} ms (p99/p50 {result.p99_ms / result.p50_ms:.1f})"
    ]
    for name in urls:
        gcs = ", ".join(
            f"gen{g} {c - gc_before[name].get(g, (0, 0))[0]:.0f}x "
            f"{(t - gc_before[name].get(g, (0, 0))[1]) * 1000:.1f} ms"
            for g, (c, t) in sorted(gc_after[name].items())
        )
        lines.append(f"  {name}: loop lag {summary(lag_before[name], lag_after[name])}; gc {gcs}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--case", default="redeem, spread coupons")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=VALUE[,NAME=VALUE] settings of one stack; several: stacks side by side",
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    variants = args.variant or [""]
    with contextlib.ExitStack() as cleanup:
        stacks: dict[str, tuple[Case, dict[str, str]]] = {}
        for variant in variants:
            env = dict(pair.split("=", 1) for pair in variant.split(",") if pair)
            tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="coupon-tail-"))
            stack = start_stack(
                Path(tmp), extra_env={"LOOP_LAG_INTERVAL_S": str(args.interval), **env}
            )
            cleanup.callback(stack.stop)
            case = service_cases(stack)[args.case]
            case.measure(wrk, 2)  # warm-up
            stacks[variant or "default"] = (case, {p.name: p.url for p in stack.all_processes()})
        peaks = {name: case.measure(wrk, args.seconds).rps for name, (case, _) in stacks.items()}
        rate = 0.7 * min(peaks.values())
        print(f"{args.case}: peaks {peaks}; runs at {rate:.0f} req/s (70% of the lowest)")
        for round_ in range(args.rounds):
            for name, (case, urls) in stacks.items():
                lines = report_round(case, urls, wrk, args.seconds, rate)
                print(f"round {round_ + 1} [{name}]: " + "\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
