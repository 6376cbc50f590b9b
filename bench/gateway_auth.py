"""The gateway's authentication overhead, measured side by side in one run.

Three gateways in front of the same trivial upstream, on loopback only:

- ``open``: the edge checks left out (``create_app(..., authenticate=False)``), the baseline;
- ``auth``: the real gateway, a whitelisted API token, the credential cache on (the hot path:
  no database round trip; the rate limit leased from Redis, up to 100 requests a call);
- ``auth, no cache``: the same with ``auth_cache_ttl_s=0`` (a database lookup per request),
  to show what the cache saves.

Rounds alternate between the three so that machine noise hits each alike. Bounded: a fixed
number of requests per round and an overall time limit. Prints the ratios auth/open.

    .venv/bin/python -m bench.gateway_auth [--requests 1000] [--rounds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET, database_url_for
from coupon_dev.testing.provision import provision
from gateway.app import create_app
from gateway.settings import Settings

from bench.inprocess import serve

ADMIN_TOKEN = "bench-bootstrap-admin-token-0123456789"
TIME_LIMIT_S = 120.0
PATH = "/v2/customers/1"


async def _upstream(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def scratch_database(admin_url: str) -> AsyncIterator[str]:
    name = f"bench_gw_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield database_url_for(admin_url, name)
    finally:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def run_round(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], n: int, concurrency: int
) -> float:
    """Seconds to complete ``n`` requests with ``concurrency`` in flight."""
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with session.get(url + PATH, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}{PATH} answered {response.status}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def bench(requests: int, rounds: int, concurrency: int) -> None:
    with provision(os.environ) as infra:
        upstream_app = web.Application()
        upstream_app.router.add_route("*", "/{tail:.*}", _upstream)
        async with (
            scratch_database(infra.postgres_url) as database_url,
            serve(upstream_app) as upstream,
        ):
            base: dict[str, Any] = {
                "database_url": database_url,
                "redis_url": infra.redis_url,
                "identity_secret": TEST_IDENTITY_SECRET,
                "environment": "test",
                "access_log": False,
                "log_level": "WARNING",
                "promotion_upstreams": upstream,
                "issuance_upstreams": upstream,
                "redemption_upstreams": upstream,
                "webhook_upstreams": upstream,
                "bootstrap_admin_token": ADMIN_TOKEN,
                "rate_limit_per_minute": 10_000_000,
            }
            cached = Settings(**base)
            uncached = Settings(**{**base, "auth_cache_ttl_s": 0})
            async with (
                serve(create_app(cached, authenticate=False)) as open_url,
                serve(create_app(cached)) as auth_url,
                serve(create_app(uncached)) as nocache_url,
                aiohttp.ClientSession() as session,
            ):
                admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                async with session.post(
                    auth_url + "/api/v1/api-tokens",
                    json={"name": "bench", "whitelist": ["GET /v2/customers/{id}"]},
                    headers=admin,
                ) as response:
                    token = (await response.json())["token"]
                auth = {"Authorization": f"Bearer {token}"}
                configs = {
                    "open": (open_url, {}),
                    "auth": (auth_url, auth),
                    "auth, no cache": (nocache_url, auth),
                }
                for url, headers in configs.values():  # warm-up: connections, caches
                    await run_round(session, url, headers, min(200, requests), concurrency)
                times: dict[str, list[float]] = {name: [] for name in configs}
                deadline = time.monotonic() + TIME_LIMIT_S
                for _ in range(rounds):
                    for name, (url, headers) in configs.items():
                        times[name].append(
                            await run_round(session, url, headers, requests, concurrency)
                        )
                    if time.monotonic() > deadline:
                        print("time limit reached; fewer rounds measured")
                        break
    report(times, requests, concurrency)


def report(times: dict[str, list[float]], requests: int, concurrency: int) -> None:
    print(f"{requests} requests per round, {concurrency} in flight, loopback")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        per_request_us = median / requests * 1e6
        print(
            f"  {name:<15} {requests / median:8.0f} req/s   "
            f"{per_request_us:7.0f} us/request (median of {len(times[name])} rounds)"
        )
    ratio = medians["auth"] / medians["open"]
    print(f"auth overhead ratio (auth / open time):            {ratio:.2f}")
    print(
        "without the credential cache (no cache / open):    "
        f"{medians['auth, no cache'] / medians['open']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not (
        1 <= args.requests <= 20_000 and 1 <= args.rounds <= 20 and 1 <= args.concurrency <= 64
    ):
        parser.error("keep it small: requests 1..20000, rounds 1..20, concurrency 1..64")
    asyncio.run(bench(args.requests, args.rounds, args.concurrency))


if __name__ == "__main__":
    main()
