"""Series limits hold under 1,000 simultaneous issues spread over two replicas."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import aiohttp
import asyncpg
from coupon_core.identity import Principal
from coupon_dev.testing.plugin import signed_as
from issuance_service.app import create_app
from issuance_service.settings import Settings

PRINCIPAL = Principal("api_token", "1", "test")
SIGNED = (signed_as(PRINCIPAL),)
REQUESTS = 1000
LIMIT = 100


async def _replicas(aiohttp_server: Any, replica_settings: Settings) -> list[str]:
    servers = [await aiohttp_server(create_app(replica_settings)) for _ in range(2)]
    return [str(server.make_url("")).rstrip("/") for server in servers]


async def _call(
    session: aiohttp.ClientSession, base: str, method: str, path: str, body: Any
) -> tuple[int, Any]:
    async with session.request(method, base + path, json=body, middlewares=SIGNED) as resp:
        return resp.status, await resp.json()


async def _storm(
    bases: list[str], series_id: int, customers: list[dict[str, Any]]
) -> tuple[Counter[int], Counter[int]]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        results = await asyncio.gather(
            *(
                _call(
                    session,
                    base,
                    "POST",
                    "/v2/coupon/issue",
                    {"seriesId": series_id, "customer": customer},
                )
                for base, customer in zip(itertools.cycle(bases), customers, strict=False)
            )
        )
    statuses = Counter(status for status, _ in results)
    codes = Counter(body["errors"][0]["code"] for status, body in results if status != 200)
    return statuses, codes


async def _setup(bases: list[str], series: dict[str, Any]) -> tuple[int, int]:
    async with aiohttp.ClientSession() as session:
        status, body = await _call(session, bases[0], "POST", "/v2/coupon/series", series)
        assert status == 201, body
        status, customer = await _call(session, bases[1], "POST", "/v2/customers", {"mobile": "42"})
        assert status == 201, customer
    return int(body["id"]), int(customer["id"])


async def _assert_issued(bases: list[str], database_url: str, series_id: int) -> None:
    async with aiohttp.ClientSession() as session:
        status, series = await _call(
            session, bases[1], "GET", f"/v2/coupon/series/{series_id}", None
        )
    assert status == 200
    assert series["numIssued"] == LIMIT
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM issued_coupons WHERE series_id = $1", series_id
        )
        assert rows == LIMIT
    finally:
        await conn.close()


async def test_max_create_holds_across_replicas(
    replica_settings: Settings, database_url: str, aiohttp_server: Any, new_series: Any
) -> None:
    bases = await _replicas(aiohttp_server, replica_settings)
    series_id, customer_id = await _setup(bases, new_series(maxCreate=LIMIT))
    statuses, codes = await _storm(bases, series_id, [{"id": customer_id}] * REQUESTS)
    assert statuses == {200: LIMIT, 400: REQUESTS - LIMIT}
    assert codes == {722: REQUESTS - LIMIT}
    await _assert_issued(bases, database_url, series_id)
    # Of the issues racing for the last unit, only the one that took it wrote limit.reached.
    conn = await asyncpg.connect(database_url)
    try:
        reached = await conn.fetch(
            "SELECT payload->>'used' AS used FROM outbox WHERE event_type = 'limit.reached'"
        )
    finally:
        await conn.close()
    assert [r["used"] for r in reached] == [str(LIMIT)]


async def test_max_vouchers_per_user_holds_across_replicas(
    replica_settings: Settings, database_url: str, aiohttp_server: Any, new_series: Any
) -> None:
    bases = await _replicas(aiohttp_server, replica_settings)
    series_id, customer_id = await _setup(bases, new_series(maxVouchersPerUser=LIMIT))
    # One customer, named by id or by mobile: the limit counts the customer, not the identifier.
    refs: list[dict[str, Any]] = [{"id": customer_id}, {"mobile": "42"}]
    statuses, codes = await _storm(bases, series_id, [refs[i % 2] for i in range(REQUESTS)])
    assert statuses == {200: LIMIT, 400: REQUESTS - LIMIT}
    assert codes == {722: REQUESTS - LIMIT}
    await _assert_issued(bases, database_url, series_id)
