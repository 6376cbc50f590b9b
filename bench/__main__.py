"""``make bench``: the stack started once, every ratio measured side by side in one run on
loopback, the table printed and written to bench/RESULTS.md. No benchmark passes or fails.

    python -m bench [--seconds 4] [--rounds 2] [--soak-seconds 60] [--no-soak]
    python -m bench soak [--soak-seconds 60]

Rows whose service is not on this branch yet are reported as not measured, with the reason.
The standalone benches (bench/gateway_auth.py, ...) keep their own command lines.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from coupon_core.embedded import free_port
from coupon_core.stack import Process, Stack, StackConfig

from bench.load import LoadResult, ensure_wrk, run_load

ADMIN_TOKEN = "bench-bootstrap-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "10000000",
    "USER_RATE_LIMIT_PER_MINUTE": "10000000",
    "ANONYMOUS_RATE_LIMIT_PER_MINUTE": "10000000",
    "AUTH_FAILURES_PER_MINUTE": "10000",
    "LOG_LEVEL": "WARNING",
    "ACCESS_LOG": "false",
}
CONNECTIONS = 32
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PROBE = "/v2/customers/1"


@dataclass
class Case:
    name: str
    url: str
    pids: dict[str, int]
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: str | None = None
    lua: str = ""
    runs: list[tuple[LoadResult, dict[str, float]]] = field(default_factory=list)
    latency: LoadResult | None = None

    def measure(self, wrk: str | None, seconds: float, rate: float | None = None) -> LoadResult:
        before = _cpu(self.pids)
        result = run_load(
            wrk,
            self.url,
            seconds=seconds,
            connections=CONNECTIONS if rate is None else 16,
            headers=self.headers,
            rate=rate,
            method=self.method,
            body=self.body,
            lua=self.lua,
        )
        after = _cpu(self.pids)
        if rate is None:
            self.runs.append((result, {k: after[k] - before[k] for k in self.pids}))
        else:
            self.latency = result
        return result

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r, _ in self.runs)

    def cpu_us_per_request(self) -> dict[str, float]:
        return {
            name: statistics.median(cpu[name] / max(1, r.requests) * 1e6 for r, cpu in self.runs)
            for name in self.pids
        }

    @property
    def per_core(self) -> float:
        return 1e6 / sum(self.cpu_us_per_request().values())


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        times = psutil.Process(pid).cpu_times()
        out[name] = times.user + times.system
    return out


def _rss(stack: Stack, extra: list[Process]) -> dict[str, float]:
    return {
        p.name: psutil.Process(p.proc.pid).memory_info().rss / 2**20
        for p in [*stack.all_processes(), *extra]
        if p.proc is not None
    }


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- nproc: {os.cpu_count()}; CPU: {cpu}",
        f"- memory: {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def start_stack(tmp: Path, *, replicas: int = 1, redis_url: str | None = None) -> Stack:
    stack = Stack(
        StackConfig(
            data_dir=tmp,
            gateway_port=0,
            replicas=replicas,
            redis_url=redis_url,
            bootstrap_admin_token=ADMIN_TOKEN,
            durable=False,
            extra_env=LIMITS,
        )
    )
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


def start_hello(stack: Stack) -> tuple[Process, Process]:
    """The bare hello app, and a second gateway whose upstreams are all that app."""
    port = free_port()
    hello = Process("hello", "bench.hello", port, dict(os.environ), stack.logs / "hello.log")
    hello.proc = subprocess.Popen(
        [sys.executable, "-m", "bench.hello", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert stack.gateway is not None
    env = dict(stack.gateway.env)
    gw_port = free_port()
    env["PORT"] = str(gw_port)
    for name in ("PROMOTION", "ISSUANCE", "REDEMPTION"):
        env[f"{name}_UPSTREAMS"] = hello.url
    gateway = Process("gateway-hello", "gateway", gw_port, env, stack.logs / "gateway-hello.log")
    gateway.start()
    _wait_http(hello.url)
    gateway.wait_ready()
    return hello, gateway


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.05)  # polling a local port with a deadline
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def py_spy_profile(pid: int, seconds: int, out: Path) -> list[str]:
    """Top functions by own samples, from ``py-spy record --format raw``."""
    spy = Path(sys.executable).with_name("py-spy")
    result = subprocess.run(
        [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    if result.returncode != 0 or not out.exists():
        return [f"py-spy failed: {result.stderr.strip()[-300:]}"]
    own: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        own[_short(leaf)] += n
    return [f"{n / total * 100:5.1f}%  {frame}" for frame, n in own.most_common(15)]


def _short(frame: str) -> str:
    frame = frame.replace(str(Path(sys.prefix)), "<venv>")
    return frame.replace(str(Path(__file__).resolve().parent.parent), "")


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
    parser.add_argument("what", nargs="?", choices=["all", "soak"], default="all")
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
        stack = start_stack(Path(tmp))
        extra: list[Process] = []
        try:
            hello, gw_hello = start_hello(stack)
            extra = [hello, gw_hello]
            report: list[str] = []
            if args.what == "all":
                report += bench_all(stack, hello, gw_hello, wrk, args, notes)
            if args.what == "soak" or not args.no_soak:
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
    command = "make bench" if args.what == "all" else "python -m bench soak"
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


ANALYSIS = """
## Reading these numbers

- The machine is shared (2 cores, other work running): absolute throughput moves from run to
  run; ratios measured side by side and CPU time per request are the stable figures.
- `req/s per core` is requests divided by the CPU seconds every process on the path spent
  (load generator excluded): what one core buys on that path.
- p50/p99 are taken at a fixed rate of 70% of the peak measured just before (wrk with a
  per-connection Lua `delay()`, as wrk2 is not available).
- The service rows count the CPU of every process: a redeem also costs CPU in the
  issuance and promotion services, which consume `coupon.redeemed` events to keep
  `numRedeemed`/`redemptionCount`/`used` current, and an issue in the redemption and
  promotion services' idle loops. The redemption process's own share is its column.
- Reading the redeem profile: the frames on top are I/O, not Python logic: socket writes
  (each one also pays, on loopback, for the receiver's side of the packet) inside asyncpg's
  `execute`/`fetch` (two round trips: the groups' shared locks, then the ledger statement
  that takes them over and commits), redis-py's command sends (three: two `MGET`s and the
  guard's `EVALSHA`) and the response write; pydantic parsing, the rules and command
  packing are a few percent each.
  The gateway's share is the proxy's client request and response writes, the credential
  lookup (hash, cache) and the HMAC identity. See docs/redemption.md for the redeem path.
- The gateway's CPU per redeem is mostly load shape, not the redeem: a proxied request costs
  an event loop less when many arrive per wake-up. Behind the same gateway, a POST of the
  redeem body to the hello app costs about 20 µs more than the GET at full speed, while a GET
  at a fixed ~600 req/s (the redeem's rate) costs about 100 µs more than the GET at full
  speed.
- `gateway hello` is a second gateway process whose upstreams are the bare hello app, with
  the same settings and token as the stack's: the gateway's own cost on a proxied request.
- Changed because of these profiles (before → after, measured side by side): the redeem's
  PostgreSQL round trips 5 → 2 and `MGET` for its lookups (redemption process 634 → 490 µs
  per redeem); event consumers batched, one transaction and one `XACK` per batch, and a
  relay that takes and marks a batch in one statement (issuance 352 → 63 µs and promotion
  285 → 32 µs per redeem; redeem throughput 512 → 1,133 req/s). docs/redemption.md keeps
  the tables and the next steps.
"""


def _api(stack: Stack, method: str, path: str, body: object = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - loopback
        stack.gateway_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.load(response)


def _redeem_json(code: str, customer_id: int) -> str:
    return json.dumps(
        {
            "root": {
                "coupon": [
                    {
                        "code": code,
                        "customer": {"id": str(customer_id)},
                        "transaction": [{"number": "B-1", "amount": "1000"}],
                    }
                ]
            }
        }
    )


SPREAD_LUA = """
local codes = {{{codes}}}
local template = [[{template}]]
function request()
  local body = string.gsub(template, "HOTCODE", codes[math.random(#codes)])
  return wrk.format(nil, nil, nil, body)
end
"""


def service_cases(stack: Stack) -> dict[str, Case]:
    """Redeem (one hot coupon; 500 spread coupons) and issue, through the real gateway."""
    unlimited = {
        "description": "bench",
        "discountType": "ABS",
        "discountValue": 10,
        "validTillDate": "2099-01-01T00:00:00Z",
        "redemptionPerCouponMaxLimit": -1,
        "sameUserMultipleRedeem": True,
        "anyUser": True,
    }
    series = _api(stack, "POST", "/v2/coupon/series", unlimited)
    customer = _api(stack, "POST", "/v2/customers", {"mobile": "7000000001"})
    issued = _api(
        stack,
        "POST",
        "/v2/coupon/issue/multiple",
        {"seriesId": series["id"], "customer": {"id": customer["id"]}, "count": 500},
    )
    codes = issued["codes"]
    pids = {p.name: p.proc.pid for p in stack.all_processes() if p.proc is not None}
    json_headers = {**AUTH, "Content-Type": "application/json"}
    url = stack.gateway_url
    template = _redeem_json("HOTCODE", customer["id"])
    return {
        "redeem, hot coupon": Case(
            "redeem, hot coupon",
            url + "/v1.1/coupon/redeem",
            pids,
            json_headers,
            "POST",
            _redeem_json(codes[0], customer["id"]),
        ),
        "redeem, spread coupons": Case(
            "redeem, spread coupons",
            url + "/v1.1/coupon/redeem",
            pids,
            json_headers,
            "POST",
            _redeem_json(codes[1], customer["id"]),
            SPREAD_LUA.format(codes=",".join(f'"{c}"' for c in codes[1:]), template=template),
        ),
        "issue": Case(
            "issue",
            url + "/v2/coupon/issue",
            pids,
            json_headers,
            "POST",
            json.dumps({"seriesId": series["id"], "customer": {"id": customer["id"]}}),
        ),
    }


def bench_all(
    stack: Stack,
    hello: Process,
    gw_hello: Process,
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
    }
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
        result = case.measure(wrk, args.seconds, rate=0.7 * case.rps)
        print(f"  {case.name} at 70%: p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms")
    lines = [
        "## Throughput, latency, CPU",
        "",
        f"{CONNECTIONS} connections at peak, {args.rounds} rounds of {args.seconds:.0f} s "
        f"alternating between cases (medians), load by {'wrk' if wrk else 'Python'}. "
        "Errors (non-2xx) are counted by the load generator and shown.",
        "",
        "| case | peak req/s | errors | p50 ms @70% | p99 ms @70% | "
        "CPU µs/request per process | req/s per core |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in cases.values():
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in case.cpu_us_per_request().items() if v >= 1)
        lat = case.latency
        assert lat is not None
        errors = sum(r.errors for r, _ in case.runs)
        lines.append(
            f"| {case.name} | {case.rps:.0f} | {errors} | {lat.p50_ms:.2f} | {lat.p99_ms:.2f} "
            f"| {cpu} | {case.per_core:.0f} |"
        )
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
        f"| hot coupon / spread coupons | {hot.rps / spread.rps:.2f} | "
        f"{spread.per_core / hot.per_core:.2f} |",
        f"| issue / hello, both behind the gateway | {issue.rps / gateway.rps:.2f} | "
        f"{1e6 / issue.per_core / (1e6 / gateway.per_core):.2f} (all processes) |",
        "| generation / raw COPY | see 'Generation vs raw COPY' below | |",
    ]
    redemption = stack.services["redemption"][0]
    assert redemption.proc is not None
    print("... profiling the redeem path with py-spy", flush=True)
    _profile_load(wrk, spread)
    profile = py_spy_profile(redemption.proc.pid, 5, Path(stack.logs) / "redemption.pyspy.txt")
    _profile_load(wrk, gateway)
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
    ]
    return lines


def _profile_load(wrk: str | None, case: Case) -> bool:
    """Starts 7 s of load in the background while py-spy samples; True when started."""
    import threading

    thread = threading.Thread(
        target=run_load,
        args=(wrk, case.url),
        kwargs={
            "seconds": 7,
            "connections": 16,
            "headers": case.headers,
            "method": case.method,
            "body": case.body,
            "lua": case.lua,
        },
        daemon=True,
    )
    thread.start()
    return True


if __name__ == "__main__":
    main()
