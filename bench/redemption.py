"""Redeem throughput and latency, measured side by side in one run.

    .venv/bin/python -m bench.redemption [--requests N] [--concurrency C] [--profile]

Serves, on loopback and the same way (one aiohttp runner in this process, called by the same
client), (1) a bare aiohttp JSON handler, (2) the real redemption service on embedded
PostgreSQL and Redis (or DATABASE_URL / REDIS_URL when set). Prints:

* redeem / bare: throughput ratio (goal >= 0.5) and p50 / p99 ratios;
* hot / spread: one coupon redeemed by many customers against coupons spread over many
  groups (goal >= 0.8).

Bounded (a fixed number of requests, a fixed concurrency), loopback only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from aiohttp import web
from coupon_core import code_registry, customers, facts, redis_keys
from coupon_core.facts import CouponFacts, Discount, GroupFacts
from coupon_core.identity import IDENTITY_HEADER, Principal, sign_identity
from coupon_dev.embedded import EmbeddedPostgres, EmbeddedRedis
from redemption_service.app import create_app
from redemption_service.settings import Settings
from redis.asyncio import Redis

from bench.inprocess import serve

SECRET = "bench-identity-secret-0123456789"
PRINCIPAL = Principal("api_token", "1", "bench")
PATH = "/v1.1/coupon/redeem"
CUSTOMERS = 5000
SPREAD_GROUPS = 200


def body(code: str, mobile: str) -> bytes:
    return orjson.dumps(
        {
            "root": {
                "coupon": [
                    {
                        "code": code,
                        "customer": {"mobile": mobile},
                        "transaction": [{"number": "T-1", "amount": "5000"}],
                    }
                ]
            }
        }
    )


async def bare_handler(request: web.Request) -> web.Response:
    data = orjson.loads(await request.read())
    coupon = data["root"]["coupon"][0]
    status = {"success": "true", "code": 700, "message": "Coupon processing successful"}
    out = {
        "response": {
            "status": {"success": "true", "code": 200, "message": "Success"},
            "coupons": {"coupon": {"code": coupon["code"], "item_status": status}},
        }
    }
    return web.Response(body=orjson.dumps(out), content_type="application/json")


async def load(
    base: str, make: Callable[[int], bytes], requests: int, concurrency: int
) -> tuple[float, list[float]]:
    """Requests per second and per-request latencies (seconds)."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(i: int) -> None:
            async with gate:
                body = make(i)
                headers = {
                    "Content-Type": "application/json",
                    IDENTITY_HEADER: sign_identity(
                        PRINCIPAL,
                        method="POST",
                        path=PATH,
                        query="",
                        body=body,
                        secret=SECRET.encode(),
                    ),
                }
                started = time.perf_counter()
                async with http.post(base + PATH, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    if resp.status != 200 or b'"code":700' not in payload:
                        raise RuntimeError(f"unexpected answer {resp.status}: {payload[:300]!r}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        elapsed = time.perf_counter() - started
    return requests / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def publish(redis: Redis) -> None:
    unlimited = Discount(type="ABS", value=100)
    await facts.publish(
        redis,
        GroupFacts(group="P:HOT", discount=unlimited),
        [CouponFacts(code="HOT", group="P:HOT", coupon_id=1)],
    )
    await code_registry.reserve(redis, "HOT", "P:HOT")
    for g in range(SPREAD_GROUPS):
        group = f"S:{g}"
        codes = [f"SP{g}-{i}" for i in range(10)]
        await facts.publish(
            redis,
            GroupFacts(group=group, discount=unlimited),
            [CouponFacts(code=c, group=group, coupon_id=i) for i, c in enumerate(codes)],
        )
        await code_registry.reserve_many(redis, codes, group)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(CUSTOMERS):
            pipe.set(redis_keys.customer_index("mobile", f"7{n:06d}"), f"b-{n}")
        await pipe.execute()
    await customers.publish(redis, "b-0", {"mobile": "7000000"})
    for owner in ("promotion", "issuance"):
        await redis.set(redis_keys.facts_ready(owner), "1")


def report(name: str, rps: float, lat: list[float]) -> None:
    print(
        f"{name:>14}: {rps:8.0f} req/s   p50 {pct(lat, 50) * 1000:7.2f} ms   "
        f"p99 {pct(lat, 99) * 1000:7.2f} ms"
    )


async def run(args: argparse.Namespace, database_url: str, redis_url: str) -> None:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    db_url = database_url.rsplit("/", 1)[0] + "/" + database
    redis: Redis = Redis.from_url(redis_url)
    await redis.flushall()
    await publish(redis)
    settings = Settings(
        database_url=db_url,
        redis_url=redis_url,
        identity_secret=SECRET,
        environment="test",
        access_log=False,
        reconcile_interval_s=0,
        db_pool_max_size=20,
    )
    bare_app = web.Application()
    bare_app.router.add_post(PATH, bare_handler)
    n, c = args.requests, args.concurrency

    def spread(i: int) -> bytes:
        return body(f"SP{i % SPREAD_GROUPS}-{(i // SPREAD_GROUPS) % 10}", f"7{i % CUSTOMERS:06d}")

    def hot(i: int) -> bytes:
        return body("HOT", f"7{i % CUSTOMERS:06d}")

    try:
        async with serve(bare_app) as bare_url, serve(create_app(settings)) as app_url:
            await load(bare_url, spread, min(n, 300), c)  # warm-up
            await load(app_url, spread, min(n, 300), c)
            await load(app_url, hot, min(n, 300), c)
            bare_rps, bare_lat = await load(bare_url, spread, n, c)
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            spread_rps, spread_lat = await load(app_url, spread, n, c)
            if profiler:
                profiler.disable()
            hot_rps, hot_lat = await load(app_url, hot, n, c)
            print(f"{n} requests per phase, concurrency {c}, loopback, one process")
            report("bare handler", bare_rps, bare_lat)
            report("redeem spread", spread_rps, spread_lat)
            report("redeem hot", hot_rps, hot_lat)
            print(f"redeem/bare throughput ratio: {spread_rps / bare_rps:.2f} (goal >= 0.5)")
            print(f"bare/redeem p50 ratio: {pct(bare_lat, 50) / pct(spread_lat, 50):.2f}")
            print(f"bare/redeem p99 ratio: {pct(bare_lat, 99) / pct(spread_lat, 99):.2f}")
            print(f"hot/spread throughput ratio: {hot_rps / spread_rps:.2f} (goal >= 0.8)")
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(
                    os.environ.get("BENCH_PROFILE_FILTER", ""), 30
                )
    finally:
        await redis.aclose()
        admin = await asyncpg.connect(database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        asyncio.run(run(args, os.environ["DATABASE_URL"], os.environ["REDIS_URL"]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-redemption-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg", durable=True)
        redis = EmbeddedRedis(Path(tmp) / "redis")
        postgres.start()
        redis.start()
        try:
            asyncio.run(run(args, postgres.url(), redis.url()))
        finally:
            redis.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
