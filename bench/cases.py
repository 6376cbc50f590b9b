"""The stack under load for ``make bench`` and ``make bench-scaling``: starting it, the bare
hello app behind a second gateway, and the measured cases (redeem hot and spread, issue)
with the CPU every process spends on them."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from coupon_dev.processes import Process
from coupon_dev.stack import Stack, StackConfig

from bench.load import LoadResult, run_load

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

    @property
    def busiest_bound(self) -> float:
        """Requests/s the busiest process allows when it has a core of its own: the
        throughput bound on a machine with a core per process (a projection from CPU time,
        not a measurement)."""
        return 1e6 / max(self.cpu_us_per_request().values())


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        times = psutil.Process(pid).cpu_times()
        out[name] = times.user + times.system
    return out


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


def start_stack(
    tmp: Path,
    *,
    replicas: int = 1,
    redis_url: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Stack:
    stack = Stack(
        StackConfig(
            data_dir=tmp,
            gateway_port=0,
            replicas=replicas,
            redis_url=redis_url,
            bootstrap_admin_token=ADMIN_TOKEN,
            durable=False,
            extra_env={**LIMITS, **(extra_env or {})},
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
    port = stack.reserve_port()
    hello = Process("hello", "bench.hello", port, dict(os.environ), stack.logs / "hello.log")
    hello.proc = subprocess.Popen(
        [sys.executable, "-m", "bench.hello", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert stack.gateway is not None
    env = dict(stack.gateway.env)
    gw_port = stack.reserve_port()
    env["PORT"] = str(gw_port)
    env["REUSE_PORT"] = "true"
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


# The dry run of a redeem (GET, nothing taken) of one of the spread coupons.
DRY_RUN_LUA = """
local codes = {{{codes}}}
function request()
  local code = codes[math.random(#codes)]
  return wrk.format(nil, "/v2/coupon/is_redeemable?amount=1000&id={customer}&code=" .. code)
end
"""


# Every request with a key of its own (never a replay): the time, so that runs do not share keys.
IDEMPOTENT_LUA = SPREAD_LUA.replace(
    "function request()", "local sent = 0\nlocal run = os.time()\nfunction request()"
).replace(
    "  return wrk.format",
    '  sent = sent + 1\n  wrk.headers["Idempotency-Key"] = "bench-" .. run .. "-" .. sent\n'
    "  return wrk.format",
)


def service_cases(stack: Stack) -> dict[str, Case]:
    """Redeem (one hot coupon; 500 spread coupons, also with an Idempotency-Key each), the
    dry run of a redeem (spread coupons) and issue, through the real gateway."""
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
    spread = ",".join(f'"{c}"' for c in codes[1:])

    def redeem(name: str, code: str, lua: str = "") -> Case:
        body = _redeem_json(code, customer["id"])
        return Case(name, url + "/v1.1/coupon/redeem", pids, json_headers, "POST", body, lua)

    return {
        "redeem, hot coupon": redeem("redeem, hot coupon", codes[0]),
        "redeem, spread coupons": redeem(
            "redeem, spread coupons", codes[1], SPREAD_LUA.format(codes=spread, template=template)
        ),
        "redeem, Idempotency-Key": redeem(
            "redeem, Idempotency-Key",
            codes[1],
            IDEMPOTENT_LUA.format(codes=spread, template=template),
        ),
        "dry run, spread coupons": Case(
            "dry run, spread coupons",
            f"{url}/v2/coupon/is_redeemable?amount=1000&id={customer['id']}&code={codes[1]}",
            pids,
            AUTH,
            lua=DRY_RUN_LUA.format(codes=spread, customer=customer["id"]),
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
