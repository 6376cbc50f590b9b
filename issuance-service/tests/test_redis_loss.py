"""Redis restarted empty in the middle of issuing: no limit is exceeded afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg
from coupon_core.identity import Principal
from coupon_core.lifecycle import redis_from_url
from coupon_dev.testing.plugin import signed_as
from coupon_dev.testing.poll import until
from coupon_dev.testing.provision import Infra
from issuance_service.app import create_app
from issuance_service.settings import Settings

PRINCIPAL = Principal("api_token", "1", "test")
SIGNED = (signed_as(PRINCIPAL),)
LIMIT = 200
PER_USER = 3
WORKERS = 12


async def _post(session: aiohttp.ClientSession, url: str, path: str, body: Any) -> tuple[int, Any]:
    async with session.post(url + path, json=body, middlewares=SIGNED) as resp:
        return resp.status, await resp.json()


async def _restart_empty(infra: Infra) -> None:
    if infra.can_restart_redis:
        await asyncio.to_thread(infra.kill_redis)
        # Started from the main thread: the child dies with the thread that spawned it
        # (PR_SET_PDEATHSIG), and worker threads of the default executor come and go.
        infra.start_redis()
    else:
        client = redis_from_url(infra.redis_url)
        try:
            await client.flushall()
        finally:
            await client.aclose()


async def test_limits_hold_when_redis_restarts_empty_mid_issue(
    replica_settings: Settings,
    database_url: str,
    aiohttp_server: Any,
    infra: Infra,
    new_series: Any,
) -> None:
    servers = [await aiohttp_server(create_app(replica_settings)) for _ in range(2)]
    urls = [str(s.make_url("")).rstrip("/") for s in servers]
    db = await asyncpg.connect(database_url)
    results: list[tuple[str, int, int | None]] = []
    phase = ["before"]
    stop = asyncio.Event()

    async def rows() -> int:
        return int(await db.fetchval("SELECT count(*) FROM issued_coupons"))

    async with aiohttp.ClientSession() as session:
        status, series = await _post(
            session,
            urls[0],
            "/v2/coupon/series",
            new_series(maxCreate=LIMIT, maxVouchersPerUser=PER_USER),
        )
        assert status == 201, series

        async def worker(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                # 100 customers, 3 coupons each at most: both limits are in play.
                body = {"seriesId": series["id"], "customer": {"mobile": f"m{(n * 31 + i) % 100}"}}
                try:
                    status, answer = await _post(session, urls[n % 2], "/v2/coupon/issue", body)
                except aiohttp.ClientError:
                    status, answer = 599, None
                code = answer["errors"][0]["code"] if status != 200 and answer else None
                results.append((phase[0], status, code))

        workers = [asyncio.create_task(worker(n)) for n in range(WORKERS)]
        try:
            await until(lambda: _at_least(rows, LIMIT // 4), what="a quarter issued")
            await _restart_empty(infra)
            phase[0] = "after"

            async def refused_after() -> bool:
                return sum(1 for p, _, c in results if p == "after" and c == 722) >= 100

            await until(refused_after, limit_s=60, what="issues refused after the restart")
        finally:
            stop.set()
            await asyncio.gather(*workers)

    try:
        assert await rows() == LIMIT
        per_customer = await db.fetch(
            "SELECT customer_id, count(*) AS n FROM issued_coupons GROUP BY customer_id"
        )
        assert max(r["n"] for r in per_customer) <= PER_USER
    finally:
        await db.close()
    successes = sum(1 for _, status, _ in results if status == 200)
    assert successes <= LIMIT
    # Issues succeeded after the restart too: the counters were rebuilt from PostgreSQL.
    assert any(p == "after" and status == 200 for p, status, _ in results)
    # A store outage is a retryable 503, never a 500.
    assert {status for _, status, _ in results} <= {200, 400, 503, 599}


async def _at_least(rows: Any, n: int) -> bool:
    return int(await rows()) >= n
