"""Issue throughput against a trivial handler, measured side by side in one run.

Both run in this process on real PostgreSQL and Redis (``TEST_DATABASE_URL``/
``TEST_REDIS_URL``, Docker, or embedded servers) behind the same middlewares and identity
check:

1. trivial: ``GET /trivial`` answering a small JSON body (no data store touched);
2. issue: ``POST /v2/coupon/issue`` of an unlimited series to one customer (limits script,
   code registry reservation, insert + outbox in one transaction, facts published).

    .venv/bin/python -m bench.issuance [--requests N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from coupon_core.http import json_response
from coupon_core.identity import Principal
from coupon_core.web import build_app
from coupon_dev.testing.plugin import signed_as
from coupon_dev.testing.provision import provision
from issuance_service.app import create_app
from issuance_service.settings import Settings

from bench.inprocess import serve

SECRET = "bench-identity-secret-0123456789"
PRINCIPAL = Principal("api_token", "1", "bench")


# Every request signed as the gateway signs it (method, path, query, body, a fresh nonce).
SIGNED = (signed_as(PRINCIPAL, SECRET),)


async def timed(requests: int, concurrency: int, one: Callable[[], Any]) -> float:
    """Requests per second of ``one`` run ``requests`` times, ``concurrency`` at a time."""
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


async def trivial(_: web.Request) -> web.Response:
    return json_response({"ok": True})


async def run(database_url: str, redis_url: str, requests: int, concurrency: int) -> None:
    env: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "identity_secret": SECRET,
        "environment": "test",
        "access_log": False,
        "db_pool_max_size": 10,
    }
    settings = Settings(**env)
    plain = build_app(settings, service="bench-trivial", migrations_dir=None)
    plain.router.add_get("/trivial", trivial)
    async with (
        serve(plain) as trivial_url,
        serve(create_app(settings)) as issue_url,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), middlewares=SIGNED
        ) as session,
    ):
        valid = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        series_body = {
            "description": "bench",
            "discountType": "ABS",
            "discountValue": 1,
            "validTillDate": valid,
        }
        async with session.post(
            issue_url + "/v2/coupon/series",
            json=series_body,
        ) as resp:
            series_id = (await resp.json())["id"]
        async with session.post(
            issue_url + "/v2/customers",
            json={"mobile": "1"},
        ) as resp:
            customer_id = (await resp.json())["id"]
        issue_body = {"seriesId": series_id, "customer": {"id": customer_id}}

        async def get_trivial() -> None:
            async with session.get(trivial_url + "/trivial") as resp:
                assert resp.status == 200
                await resp.read()

        async def issue() -> None:
            async with session.post(
                issue_url + "/v2/coupon/issue",
                json=issue_body,
            ) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

        await timed(50, 8, issue)  # warm up: counters built, connections open
        await timed(50, 8, get_trivial)
        trivial_rate = await timed(requests, concurrency, get_trivial)
        issue_rate = await timed(requests, concurrency, issue)
    print(f"requests: {requests}, concurrency: {concurrency}")
    print(f"trivial handler:   {trivial_rate:8.0f} req/s")
    print(f"POST coupon/issue: {issue_rate:8.0f} req/s")
    print(f"issue / trivial:   {issue_rate / trivial_rate:8.2f}")


async def main(requests: int, concurrency: int) -> None:
    with provision(os.environ) as infra:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(infra.postgres_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        base = infra.postgres_url.rpartition("/")[0]
        try:
            await run(f"{base}/{name}", infra.redis_url, requests, concurrency)
        finally:
            admin = await asyncpg.connect(infra.postgres_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
