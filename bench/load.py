"""Load generation on loopback: wrk when available (installed with apt-get when missing and
running as root), else a Python generator. Both report requests, seconds and latency
percentiles (p50, p99, p99.9); both can hold a fixed rate (wrk through a Lua ``delay()`` following
one schedule)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

import aiohttp


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    tool: str
    p999_ms: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str | None:
    """The wrk binary, installing the Debian package when missing and allowed."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False, timeout=300
    )
    return shutil.which("wrk")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


# A fixed rate: one schedule for all the connections of the (single) thread, each request
# sent at its due time, or at once when the run is behind it. A fixed pause per connection
# after each answer (wrk's usual way) runs below the rate as soon as answers take time: at
# "70%" the redeem ran at about 55%.
LUA = """
local interval_ms = {interval_ms}
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local clock = ffi.new("bench_timespec")
local due = nil
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
{method_line}
function delay()
  if interval_ms == 0 then
    return 0
  end
  local now = now_ms()
  due = (due or now) + interval_ms
  return math.max(0, due - now)
end
-- wrk's --latency table stops at 99%: the 99.9th percentile, in microseconds.
function done(summary, latency, requests)
  io.write(string.format("p99.9 %dus\\n", latency:percentile(99.9)))
end
{extra}
"""


def run_wrk(
    wrk: str,
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    rate: float | None = None,
    method: str = "GET",
    body: str | None = None,
    lua: str = "",
) -> LoadResult:
    method_line = f'wrk.method = "{method}"'
    if body is not None:
        method_line += f"\nwrk.body = [[{body}]]"
    interval_ms = 1000 / rate if rate else 0
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(interval_ms=interval_ms, method_line=method_line, extra=lua))
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    argv += ["-s", script.name]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    try:
        out = subprocess.run(
            [*argv, url], capture_output=True, text=True, check=True, timeout=seconds + 30
        ).stdout
    finally:
        os.unlink(script.name)
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert total, out
    requests, duration = int(total.group(1)), _ms(total.group(2) + total.group(3)) / 1000
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+)"):
        for found in re.findall(pattern, out):
            errors += int(found)
    # Lines of the latency distribution only: "+/- Stdev" columns such as "92.50%" also
    # end in "50%".
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE)
    p999 = re.search(r"^p99\.9 (\S+)", out, re.MULTILINE)
    return LoadResult(
        requests,
        duration,
        errors,
        _ms(p50.group(1)) if p50 else float("nan"),
        _ms(p99.group(1)) if p99 else float("nan"),
        "wrk",
        _ms(p999.group(1)) if p999 else float("nan"),
    )


async def _python_load(
    url: str,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    rate: float | None,
    method: str,
    body: str | None,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    interval = connections / rate if rate else 0.0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(offset: float) -> None:
            nonlocal errors
            next_at = time.monotonic() + offset
            while time.monotonic() < deadline:
                if interval:
                    pause = next_at - time.monotonic()
                    if pause > 0:
                        await asyncio.sleep(pause)  # holding the fixed rate
                    next_at += interval
                started = time.perf_counter()
                async with session.request(method, url, data=body) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.monotonic()
        await asyncio.gather(*(worker(interval * i / connections) for i in range(connections)))
        elapsed = time.monotonic() - started
    quantiles = statistics.quantiles(latencies, n=1000) if len(latencies) > 1 else [0.0] * 999
    return LoadResult(
        len(latencies), elapsed, errors, quantiles[499], quantiles[989], "python", quantiles[998]
    )


def run_load(
    wrk: str | None,
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    rate: float | None = None,
    method: str = "GET",
    body: str | None = None,
    lua: str = "",
) -> LoadResult:
    """``lua`` adds wrk script code (e.g. a ``request()`` varying the body); the Python
    generator ignores it and sends ``body`` every time."""
    if wrk:
        return run_wrk(
            wrk,
            url,
            seconds=seconds,
            connections=connections,
            headers=headers,
            rate=rate,
            method=method,
            body=body,
            lua=lua,
        )
    return asyncio.run(_python_load(url, seconds, connections, headers, rate, method, body))
