"""Coupon generation throughput against a raw COPY, and the service's peak memory.

Runs the promotion service as a real process on PostgreSQL and Redis (the test servers:
``TEST_DATABASE_URL``/``TEST_REDIS_URL``, Docker, or embedded ones), then in one run:

1. raw COPY: ``amount`` pre-made coupon rows copied into the empty coupons table in one
   COPY (then the table is emptied again);
2. generation: ``POST .../coupons/generate`` with the same ``amount``, timed until the job
   reports ``done`` (random codes, code registry reservations, facts, COPY, progress, all included).

Prints both rates, their ratio (goal: generation at least half the raw COPY rate) and the
service's peak resident memory (VmHWM) during the job.

    .venv/bin/python bench/promotion_generation.py [--amount N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from coupon_core.identity import Principal
from coupon_dev.ports import reserve_port
from coupon_dev.testing.plugin import signed_as
from coupon_dev.testing.provision import provision

SECRET = "bench-identity-secret-0123456789"
PRINCIPAL = Principal("api_token", "1", "bench")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def call(
    session: aiohttp.ClientSession, base: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with session.request(
        method, base + path, json=body, middlewares=(signed_as(PRINCIPAL, SECRET),)
    ) as response:
        return response.status, await response.json(content_type=None)


async def wait_ready(
    session: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]
) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if proc.poll() is not None:
            raise SystemExit("the service exited during start-up")
        try:
            async with session.get(base + "/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the service did not become ready")


async def raw_copy(database_url: str, amount: int) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        promotion_id = await conn.fetchval(
            "INSERT INTO promotions (code, name, coupon_based) VALUES ('BASELINE', 'B', true) "
            "RETURNING id"
        )
        rows = [
            (promotion_id, "B" + secrets.token_hex(6).upper(), 1, None, None) for _ in range(amount)
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "coupons",
            records=rows,
            columns=[
                "promotion_id",
                "code",
                "usage_limit",
                "per_customer_usage_limit",
                "expires_at",
            ],
        )
        elapsed = time.perf_counter() - started
        # The generation starts from the same empty table the COPY started from.
        await conn.execute("TRUNCATE coupons")
        return elapsed
    finally:
        await conn.close()


async def create_database(postgres_url: str, name: str) -> None:
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_database(postgres_url: str, name: str) -> None:
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def measure(
    amount: int, database_url: str, base: str, proc: subprocess.Popen[bytes]
) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base, proc)
        baseline_s = await raw_copy(database_url, amount)
        status, _ = await call(
            session,
            base,
            "POST",
            "/api/v1/promotions/",
            {"code": "BENCH", "name": "Bench", "couponBased": True},
        )
        assert status == 201
        rss_before = peak_rss_mib(proc.pid)
        started = time.perf_counter()
        status, job = await call(
            session,
            base,
            "POST",
            "/api/v1/promotions/BENCH/coupons/generate",
            {"amount": amount, "codeLength": 12, "usageLimit": 1},
        )
        assert status in (201, 202), job
        if status == 202:
            href = job["_links"]["self"]["href"]
            while job["state"] not in ("done", "failed"):
                await asyncio.sleep(0.05)
                _, job = await call(session, base, "GET", href)
            assert job["state"] == "done", job
        generation_s = time.perf_counter() - started
    return {
        "baseline_s": baseline_s,
        "generation_s": generation_s,
        "rss_before": rss_before,
        "peak": peak_rss_mib(proc.pid),
    }


def bench(amount: int, postgres_url: str, redis_url: str) -> None:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(create_database(postgres_url, name))
    database_url = postgres_url.rpartition("/")[0] + "/" + name
    reservation = reserve_port()  # held until the service is gone (REUSE_PORT below)
    port = reservation.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "IDENTITY_SECRET": SECRET,
        "ENVIRONMENT": "test",
        "PORT": str(port),
        "REUSE_PORT": "true",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "GENERATION_SYNC_LIMIT": "1",
    }
    proc = subprocess.Popen([sys.executable, "-m", "promotion_service"], env=env)
    try:
        got = asyncio.run(measure(amount, database_url, f"http://127.0.0.1:{port}", proc))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reservation.close()
        asyncio.run(drop_database(postgres_url, name))
    copy_rate = amount / got["baseline_s"]
    gen_rate = amount / got["generation_s"]
    print(f"codes:                     {amount:,}")
    print(f"raw COPY of premade rows:  {got['baseline_s']:8.2f} s  {copy_rate:12,.0f} rows/s")
    print(f"generation job:            {got['generation_s']:8.2f} s  {gen_rate:12,.0f} codes/s")
    print(f"throughput ratio:          {gen_rate / copy_rate:8.2f}  (goal >= 0.5)")
    print(
        f"service peak RSS:          {got['peak']:8.1f} MiB "
        f"(before the job: {got['rss_before']:.1f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amount", type=int, default=1_000_000)
    args = parser.parse_args()
    with provision(os.environ) as infra:
        bench(args.amount, infra.postgres_url, infra.redis_url)


if __name__ == "__main__":
    main()
