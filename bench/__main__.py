"""``make bench``: the stack started once, every ratio measured side by side in one run on
loopback, the table printed and written to bench/RESULTS.md. No benchmark passes or fails.

    python -m bench [--seconds 4] [--rounds 2] [--soak-seconds 60] [--no-soak]
    python -m bench soak [--soak-seconds 60]
    python -m bench webhooks [--seconds 4] [--rounds 2]   (bench/webhooks.py alone)

Rows whose service is not on this branch yet are reported as not measured, with the reason.
The standalone benches (`python -m bench.gateway_auth`, ...) keep their own command lines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
from coupon_dev.processes import Process
from coupon_dev.stack import Stack

from bench.bare_proxy import start_bare_proxy
from bench.cases import (
    AUTH,
    CONNECTIONS,
    PROBE,
    Case,
    machine,
    service_cases,
    start_hello,
    start_stack,
)
from bench.load import ensure_wrk, run_load
from bench.looplag import snapshot, summary
from bench.profile import profile_load, py_spy_profile
from bench.references import reference_cases, start_references
from bench.results_analysis import ANALYSIS
from bench.webhooks import STACK_ENV as WEBHOOK_ENV
from bench.webhooks import bench_webhooks

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _rss(stack: Stack, extra: list[Process]) -> dict[str, float]:
    return {
        p.name: psutil.Process(p.proc.pid).memory_info().rss / 2**20
        for p in [*stack.all_processes(), *extra]
        if p.proc is not None
    }


def soak(stack: Stack, extra: list[Process], wrk: str | None, seconds: float) -> list[str]:
    """A fixed moderate rate for ``seconds`` through the real gateway and a service; RSS of
    every process before and after."""
    before = _rss(stack, extra)
    url = stack.gateway_url + "/v2/coupon/series/soak-probe"
    result = run_load(wrk, url, seconds=seconds, connections=8, headers=AUTH, rate=300)
    after = _rss(stack, extra)
    lines = [
        f"{result.requests} requests in {result.seconds:.0f} s at a fixed 300 req/s "
        f"({result.tool}), GET {url.removeprefix(stack.gateway_url)} through the gateway",
        "",
        "| process | RSS before (MiB) | RSS after (MiB) | growth (MiB) |",
        "|---|---|---|---|",
    ]
    for name in before:
        lines.append(
            f"| {name} | {before[name]:.1f} | {after.get(name, 0):.1f} | "
            f"{after.get(name, 0) - before[name]:+.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=["all", "soak", "webhooks"], default="all")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--no-soak", action="store_true")
    parser.add_argument("--generation-amount", type=int, default=1_000_000)
    args = parser.parse_args()
    if not (1 <= args.seconds <= 30 and 1 <= args.rounds <= 5 and 1 <= args.soak_seconds <= 120):
        parser.error("keep it bounded: seconds 1..30, rounds 1..5, soak 1..120")
    wrk = ensure_wrk()
    notes = [] if wrk else ["wrk not available: the Python load generator was used (slower)."]
    facts = machine()
    print("\n".join(facts), flush=True)
    with tempfile.TemporaryDirectory(prefix="coupon-bench-") as tmp:
        print("... starting the stack", flush=True)
        stack = start_stack(Path(tmp), extra_env=WEBHOOK_ENV)
        extra: list[Process] = []
        try:
            hello, gw_hello = start_hello(stack)
            extra = [hello, gw_hello]
            report: list[str] = []
            if args.what == "all":
                references = start_references(stack)
                extra += references
                bare = start_bare_proxy(stack, hello)
                extra.append(bare)
                report += bench_all(stack, hello, gw_hello, references, bare, wrk, args, notes)
            if args.what == "webhooks":
                report += webhooks_alone(stack, wrk, args)
            if args.what == "soak" or (args.what == "all" and not args.no_soak):
                print(f"... soak {args.soak_seconds:.0f} s", flush=True)
                report += ["", "## Soak", "", *soak(stack, extra, wrk, args.soak_seconds)]
        finally:
            for process in extra:
                if process.proc is not None:
                    process.stop()
            stack.stop()
    if args.what == "all":
        print("... generation vs raw COPY (bench/promotion_generation.py)", flush=True)
        report += ["", "## Generation vs raw COPY", "", *generation(args.generation_amount)]
        print("... signed identity per request (bench/identity.py)", flush=True)
        report += ["", "## Signed identity per request", "", *identity_costs()]
    command = "make bench" if args.what == "all" else f"python -m bench {args.what}"
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"Command: `{command}` (`{' '.join(['python -m bench', *sys.argv[1:]])}`)",
            "",
            *facts,
            "",
            *report,
            "",
            *(f"Note: {n}" for n in notes),
        ]
    )
    print(text)
    if args.what == "all":
        RESULTS.write_text(text.rstrip() + "\n" + ANALYSIS)
        print(f"written to {RESULTS}")


def webhooks_alone(stack: Stack, wrk: str | None, args: argparse.Namespace) -> list[str]:
    """bench/webhooks.py against the redeem peak of this run (spread coupons, as in
    ``bench_all``)."""
    spread = service_cases(stack)["redeem, spread coupons"]
    run_load(
        wrk,
        spread.url,
        seconds=1,
        connections=8,
        headers=spread.headers,
        method=spread.method,
        body=spread.body,
        lua=spread.lua,
    )
    for round_ in range(args.rounds):
        result = spread.measure(wrk, args.seconds)
        print(f"  round {round_ + 1} {spread.name}: {result.rps:.0f} req/s", flush=True)
    return ["## Webhooks", "", *bench_webhooks(stack, wrk, spread, args.seconds)]


def generation(amount: int) -> list[str]:
    """bench/promotion_generation.py, run as it is (its own servers, after the stack is
    stopped so that the two do not compete), its output kept verbatim."""
    script = Path(__file__).resolve().parent / "promotion_generation.py"
    command = [sys.executable, str(script), "--amount", str(amount)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        output = (result.stdout + result.stderr).strip().splitlines()
    except subprocess.TimeoutExpired:
        output = ["timed out after 600 s"]
    return [
        f"`python bench/promotion_generation.py --amount {amount}`:",
        "",
        "```",
        *output[-25:],
        "```",
    ]


def identity_costs() -> list[str]:
    """bench/identity.py, run as it is (CPU of signing and verifying, Redis nonce claims),
    its output kept verbatim: the part of the service rows above that the identity costs."""
    command = [sys.executable, "-m", "bench.identity"]
    root = Path(__file__).resolve().parent.parent
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=300, cwd=root
        )
        output = (result.stdout + result.stderr).strip().splitlines()
    except subprocess.TimeoutExpired:
        output = ["timed out after 300 s"]
    return ["`python -m bench.identity`:", "", *output[-20:]]


def bench_all(
    stack: Stack,
    hello: Process,
    gw_hello: Process,
    references: tuple[Process, Process],
    bare: Process,
    wrk: str | None,
    args: argparse.Namespace,
    notes: list[str],
) -> list[str]:
    assert hello.proc is not None
    assert gw_hello.proc is not None
    assert stack.gateway is not None
    assert stack.gateway.proc is not None
    cases = {
        "direct hello": Case("direct hello", hello.url + PROBE, {"hello": hello.proc.pid}),
        "gateway hello": Case(
            "gateway hello",
            gw_hello.url + PROBE,
            {"gateway": gw_hello.proc.pid, "hello": hello.proc.pid},
            AUTH,
        ),
        **service_cases(stack),
        **reference_cases(*references),
    }
    assert bare.proc is not None
    cases["bare proxy hello"] = Case(
        "bare proxy hello",
        bare.url + PROBE,
        {"bare proxy": bare.proc.pid, "hello": hello.proc.pid},
        AUTH,
    )
    # Processes exporting event_loop_lag_seconds (built by coupon_core.web.build_app).
    metered = {
        p.proc.pid: (p.name, p.url)
        for p in [*stack.all_processes(), gw_hello, references[1]]
        if p.proc is not None
    }
    lags: dict[str, dict[str, str]] = {}
    if not wrk:
        notes.append("the Python generator sends one body: 'spread coupons' is a hot coupon too.")
    print("... warm-up", flush=True)
    for case in cases.values():
        run_load(
            wrk,
            case.url,
            seconds=1,
            connections=8,
            headers=case.headers,
            method=case.method,
            body=case.body,
            lua=case.lua,
        )
    for round_ in range(args.rounds):
        for case in cases.values():
            result = case.measure(wrk, args.seconds)
            print(f"  round {round_ + 1} {case.name}: {result.rps:.0f} req/s", flush=True)
    for case in cases.values():
        urls = dict(metered[pid] for pid in case.pids.values() if pid in metered)
        before = snapshot(urls)
        result = case.measure(wrk, args.seconds, rate=0.7 * case.rps)
        after = snapshot(urls)
        lags[case.name] = {n: summary(before[n], after[n]) for n in urls if after[n]}
        print(
            f"  {case.name} at 70%: p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms "
            f"p99.9 {result.p999_ms:.2f} ms; loop lag {lags[case.name]}"
        )
    lines = [
        "## Throughput, latency, CPU",
        "",
        f"{CONNECTIONS} connections at peak, {args.rounds} rounds of {args.seconds:.0f} s "
        f"alternating between cases (medians), load by {'wrk' if wrk else 'Python'}. "
        "Errors (non-2xx) are counted by the load generator and shown.",
        "",
        "| case | peak req/s | errors | p50 ms @70% | p99 ms @70% | p99.9 ms @70% | "
        "CPU µs/request per process | req/s per core |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in cases.values():
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in case.cpu_us_per_request().items() if v >= 1)
        lat = case.latency
        assert lat is not None
        errors = sum(r.errors for r, _ in case.runs)
        lines.append(
            f"| {case.name} | {case.rps:.0f} | {errors} | {lat.p50_ms:.2f} | {lat.p99_ms:.2f} "
            f"| {lat.p999_ms:.2f} | {cpu} | {case.per_core:.0f} |"
        )
    lines += [
        "",
        "## Event-loop lag at 70% load",
        "",
        "`event_loop_lag_seconds` of each process on the path (how late a 50 ms sleep woke), "
        "read from its /metrics before and after the 70% run: bucket bounds, so '≤'.",
        "",
        "| case | loop lag per process |",
        "|---|---|",
        *(
            f"| {name} | {'; '.join(f'{p}: {v}' for p, v in lag.items()) or '—'} |"
            for name, lag in lags.items()
        ),
    ]
    direct, gateway = cases["direct hello"], cases["gateway hello"]
    hot, spread, issue = (
        cases["redeem, hot coupon"],
        cases["redeem, spread coupons"],
        cases["issue"],
    )
    gw_cpu = gateway.cpu_us_per_request()["gateway"]
    hello_cpu = direct.cpu_us_per_request()["hello"]
    lines += [
        "",
        "## Ratios",
        "",
        "| ratio | throughput | CPU per request |",
        "|---|---|---|",
        f"| gateway hello / direct hello | {gateway.rps / direct.rps:.2f} | "
        f"{gw_cpu / hello_cpu:.2f} (gateway process / hello process) |",
        f"| redeem (spread) / hello, both behind the gateway | {spread.rps / gateway.rps:.2f} | "
        f"{1e6 / spread.per_core / (1e6 / gateway.per_core):.2f} (all processes) |",
        f"| redeem (spread) / hello, projected with a core per process | "
        f"{spread.busiest_bound / gateway.busiest_bound:.2f} (projection: "
        f"{spread.busiest_bound:.0f} / {gateway.busiest_bound:.0f} req/s, the busiest "
        "process's 1 s / its CPU per request) | |",
        f"| hot coupon / spread coupons | {hot.rps / spread.rps:.2f} | "
        f"{spread.per_core / hot.per_core:.2f} |",
        f"| issue / hello, both behind the gateway | {issue.rps / gateway.rps:.2f} | "
        f"{1e6 / issue.per_core / (1e6 / gateway.per_core):.2f} (all processes) |",
        "| generation / raw COPY | see 'Generation vs raw COPY' below | |",
        *reference_ratios(cases),
    ]
    redemption = stack.services["redemption"][0]
    assert redemption.proc is not None
    print("... profiling the redeem path with py-spy", flush=True)
    profile_load(wrk, spread)
    profile = py_spy_profile(redemption.proc.pid, 5, Path(stack.logs) / "redemption.pyspy.txt")
    profile_load(wrk, gateway)
    gw_profile = py_spy_profile(gw_hello.proc.pid, 5, Path(stack.logs) / "gateway.pyspy.txt")
    lines += [
        "",
        "## Where the time goes",
        "",
        "py-spy samples of one process under load, by the function on top of the stack "
        "(own time), 5 s each.",
        "",
        "Redemption service, redeem with spread coupons:",
        "",
        "```",
        *profile,
        "```",
        "",
        "Gateway, authenticated proxied GET to the hello app:",
        "",
        "```",
        *gw_profile,
        "```",
        "",
        "## Webhooks",
        "",
        *bench_webhooks(stack, wrk, spread, args.seconds),
    ]
    return lines


def reference_ratios(cases: dict[str, Case]) -> list[str]:
    """Ours against the limits: the gateway against the bare proxy, the redeem against the
    least a redeem can do and against the peers' design (issue 17)."""
    spread, hot = cases["redeem, spread coupons"], cases["redeem, hot coupon"]
    limit = cases["limit redeem, spread"]
    peer_hot, peer_spread = cases["peer design, hot coupon"], cases["peer design, spread"]
    bare, gateway = cases["bare proxy hello"], cases["gateway hello"]
    gw_cpu = gateway.cpu_us_per_request()["gateway"]
    bare_cpu = bare.cpu_us_per_request()["bare proxy"]
    return [
        f"| gateway hello / bare proxy hello (goal CPU ≤ 1.3) | {gateway.rps / bare.rps:.2f} "
        f"| {gw_cpu / bare_cpu:.2f} (gateway process / bare proxy process) |",
        f"| redeem (spread) / limit redeem (goal ≥ 0.8) | {spread.rps / limit.rps:.2f} | "
        f"{limit.per_core / spread.per_core:.2f} (all Python processes) |",
        f"| redeem / peer design, hot coupon | {hot.rps / peer_hot.rps:.2f} | "
        f"{peer_hot.per_core / hot.per_core:.2f} (all Python processes) |",
        f"| redeem / peer design, spread coupons | {spread.rps / peer_spread.rps:.2f} | "
        f"{peer_spread.per_core / spread.per_core:.2f} (all Python processes) |",
        f"| redeem (spread) p99 / p50 at 70% (goal ≤ 3) | {_tail(spread)} (limit redeem "
        f"{_tail(limit)}, gateway hello {_tail(gateway)}, "
        f"direct hello {_tail(cases['direct hello'])}) | |",
    ]


def _tail(case: Case) -> str:
    assert case.latency is not None
    return f"{case.latency.p99_ms / case.latency.p50_ms:.1f}"


if __name__ == "__main__":
    main()
