"""The gateway's CPU per proxied request against the bare proxy's, measured side by side in
one run: ``python -m bench.bare_proxy compare``.

The same hello upstream (bench/hello.py) behind three proxies, each its own process:

- ``bare``: bench/bare_proxy.py, the limit;
- ``gateway open``: the gateway with the edge checks left out (``authenticate=False``);
- ``gateway auth``: the gateway as it runs, a whitelisted API token (the credential cache
  on, the rate limit leased from Redis).

Rounds alternate between them so that machine noise hits each alike; each round is wrk at
full speed for a fixed time. The CPU of the proxy process (``psutil`` user + system, before
and after) divided by the requests it served is the figure; ratios are taken against the
bare proxy. ``--rate N`` holds every row at N requests/s instead (16 connections), so that
each proxy's event loop wakes up as often per request. ``--post`` adds the same three with
a POST of a redeem-sized JSON body (the identity signs the body's digest). ``--profile``
then samples each proxy with py-spy.

    python -m bench.bare_proxy compare [--seconds 3] [--rounds 3] [--rate N] [--post] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil
from coupon_core.settings import load_settings
from coupon_dev.embedded import signals_held, spawn
from coupon_dev.ports import reserve_port
from coupon_dev.processes import Process
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET, database_url_for
from coupon_dev.testing.provision import provision

from bench.cases import CONNECTIONS, LIMITS, PROBE, Case, _redeem_json
from bench.gateway_auth import ADMIN_TOKEN
from bench.load import LoadResult, ensure_wrk, run_load
from bench.profile import profile_load, py_spy_profile

ROOT = Path(__file__).resolve().parent.parent
POST_PATH = "/v1.1/coupon/redeem"
FIXED_RATE_CONNECTIONS = 16


@dataclass
class Row:
    name: str
    proxy: str  # the process measured
    url: str
    headers: dict[str, str]
    method: str = "GET"
    body: str | None = None
    runs: list[tuple[LoadResult, float]] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(result.rps for result, _ in self.runs)

    @property
    def cpu_us(self) -> float:
        return statistics.median(cpu / max(1, r.requests) * 1e6 for r, cpu in self.runs)


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class Processes:
    """The processes of one comparison, on ports held from before they start until the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Process] = []
        self._ports: list[socket.socket] = []

    def port(self) -> int:
        sock = reserve_port()
        self._ports.append(sock)
        return int(sock.getsockname()[1])

    def start(self, name: str, argv: list[str], port: int, env: dict[str, str]) -> Process:
        env = {**env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        process = Process(name, argv[0], port, env, self.logs / f"{name}.log")
        with open(process.log_path, "ab") as log, signals_held():
            process.proc = spawn(
                [sys.executable, "-m", *argv], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.started.append(process)
        process.wait_ready()
        return process

    def pid(self, name: str) -> int:
        process = next(p for p in self.started if p.name == name)
        assert process.proc is not None
        return process.proc.pid

    def stop(self) -> None:
        for process in reversed(self.started):
            process.stop()
        for sock in self._ports:
            sock.close()


def gateway_env(port: int, database_url: str, redis_url: str, upstream: str) -> dict[str, str]:
    env = {
        **os.environ,
        **LIMITS,
        "SERVICE_NAME": "gateway",
        "ENVIRONMENT": "test",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "REUSE_PORT": "true",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "IDENTITY_SECRET": TEST_IDENTITY_SECRET,
        "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    for name in ("PROMOTION", "ISSUANCE", "REDEMPTION"):
        env[f"{name}_UPSTREAMS"] = upstream
    return env


def _api_token(gateway_url: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback
        gateway_url + "/api/v1/api-tokens",
        method="POST",
        data=json.dumps(
            {"name": "bench-edge", "whitelist": ["GET /v2/customers/{id}", f"POST {POST_PATH}"]}
        ).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return str(json.load(response)["token"])


async def _admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def edge_processes(logs: Path) -> Iterator[tuple[Processes, str]]:
    """hello, the bare proxy and both gateways running; yields them and an API token."""
    with provision(os.environ) as infra:
        name = f"bench_edge_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(infra.postgres_url, f'CREATE DATABASE "{name}"'))
        database_url = database_url_for(infra.postgres_url, name)
        processes = Processes(logs)
        try:
            hello_port = processes.port()
            hello = processes.start(
                "hello", ["bench.hello", str(hello_port)], hello_port, dict(os.environ)
            )
            port = processes.port()
            processes.start(
                "bare",
                ["bench.bare_proxy", "--port", str(port), "--upstream", hello.url],
                port,
                dict(os.environ),
            )
            port = processes.port()
            auth = processes.start(
                "gateway auth",
                ["gateway"],
                port,
                gateway_env(port, database_url, infra.redis_url, hello.url),
            )
            port = processes.port()
            env = gateway_env(port, database_url, infra.redis_url, hello.url)
            env["APPLY_MIGRATIONS"] = "false"
            processes.start("gateway open", ["bench.edge", "open-gateway"], port, env)
            yield processes, _api_token(auth.url)
        finally:
            processes.stop()
            asyncio.run(
                _admin(infra.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )


def rows(processes: Processes, token: str, post: bool) -> list[Row]:
    urls = {p.name: p.url for p in processes.started}
    auth = {"Authorization": f"Bearer {token}"}
    out = [
        Row("bare GET", "bare", urls["bare"] + PROBE, {}),
        Row("gateway open GET", "gateway open", urls["gateway open"] + PROBE, {}),
        Row("gateway auth GET", "gateway auth", urls["gateway auth"] + PROBE, auth),
    ]
    if post:
        body = _redeem_json("BENCH-EDGE-CODE", 1)
        json_type = {"Content-Type": "application/json"}
        for row in list(out):
            out.append(
                Row(
                    row.name.replace("GET", "POST"),
                    row.proxy,
                    row.url.replace(PROBE, POST_PATH),
                    {**row.headers, **json_type},
                    "POST",
                    body,
                )
            )
    return out


def measure(
    processes: Processes,
    table: list[Row],
    seconds: float,
    rounds: int,
    rate: float | None = None,
) -> None:
    """Full speed (``CONNECTIONS`` connections), or ``rate`` requests/s for every row: at a
    fixed rate each proxy gets the same requests per event-loop wake-up, so the CPU per
    request compares the work, not how busy the loop was."""
    wrk = ensure_wrk()
    for row in table:  # warm-up: connections, caches, leases
        run_load(
            wrk,
            row.url,
            seconds=1,
            connections=8,
            headers=row.headers,
            method=row.method,
            body=row.body,
        )
    for round_ in range(rounds):
        for row in table:
            pid = processes.pid(row.proxy)
            before = _cpu(pid)
            result = run_load(
                wrk,
                row.url,
                seconds=seconds,
                connections=CONNECTIONS if rate is None else FIXED_RATE_CONNECTIONS,
                headers=row.headers,
                rate=rate,
                method=row.method,
                body=row.body,
            )
            row.runs.append((result, _cpu(pid) - before))
            print(
                f"  round {round_ + 1} {row.name}: {result.rps:.0f} req/s, "
                f"{row.runs[-1][1] / max(1, result.requests) * 1e6:.0f} us/request, "
                f"{result.errors} errors",
                flush=True,
            )


def report(table: list[Row]) -> list[str]:
    lines = [
        "| proxy | req/s | proxy CPU µs/request | CPU / bare | req/s / bare |",
        "|---|---|---|---|---|",
    ]
    by_name = {row.name: row for row in table}
    for row in table:
        bare = by_name[f"bare {row.method}"]
        lines.append(
            f"| {row.name} | {row.rps:.0f} | {row.cpu_us:.0f} | {row.cpu_us / bare.cpu_us:.2f} "
            f"| {row.rps / bare.rps:.2f} |"
        )
    for method in ("GET", "POST"):
        auth, open_ = by_name.get(f"gateway auth {method}"), by_name.get(f"gateway open {method}")
        if auth and open_:
            lines.append(
                f"\n{method}: authenticated / open throughput {auth.rps / open_.rps:.2f}, "
                f"CPU {auth.cpu_us / open_.cpu_us:.2f}"
            )
    return lines


def profiles(processes: Processes, table: list[Row], logs: Path) -> list[str]:
    wrk = ensure_wrk()
    lines = []
    for row in table:
        pid = processes.pid(row.proxy)
        profile_load(
            wrk, Case(row.name, row.url, {row.proxy: pid}, row.headers, row.method, row.body)
        )
        top = py_spy_profile(pid, 5, logs / f"{row.name.replace(' ', '-')}.pyspy.txt")
        lines += ["", f"{row.name} (py-spy, own samples, 5 s):", "```", *top, "```"]
        time.sleep(2.5)  # the background load of profile_load runs 7 s: let it end
    return lines


def open_gateway() -> None:
    """The gateway without the edge checks, as a process (bench only: no setting reaches it)."""
    from coupon_core.logging import configure_logging
    from coupon_core.web import new_event_loop, serve
    from gateway.app import SERVICE, create_app
    from gateway.settings import Settings

    settings = load_settings(Settings)
    configure_logging(SERVICE, settings.log_level)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(create_app(settings, authenticate=False), settings))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bare_proxy compare", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--post", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--rate", type=float, default=None, help="a fixed rate (requests/s) instead of full speed"
    )
    args = parser.parse_args(argv)
    if not (
        1 <= args.seconds <= 30 and 1 <= args.rounds <= 10 and 10 <= (args.rate or 10) <= 20_000
    ):
        parser.error("keep it bounded: seconds 1..30, rounds 1..10, rate 10..20000")
    with (
        tempfile.TemporaryDirectory(prefix="coupon-edge-") as tmp,
        edge_processes(Path(tmp)) as (processes, token),
    ):
        table = rows(processes, token, args.post)
        measure(processes, table, args.seconds, args.rounds, args.rate)
        lines = report(table)
        if args.profile:
            lines += profiles(processes, table, Path(tmp))
    load = f"{CONNECTIONS} connections" if args.rate is None else f"{args.rate:g} req/s"
    print(
        f"{load}, {args.rounds} rounds of {args.seconds:.0f} s "
        "alternating (medians), wrk on loopback"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["open-gateway"]:
        open_gateway()
    else:
        main()
