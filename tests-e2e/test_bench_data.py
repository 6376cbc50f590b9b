"""``make bench-data``'s seeding at a tiny scale, on a stack of its own: what it writes by
COPY is what the services would have written, and the services serve it (the facts they
republish from PostgreSQL, counters rebuilt from the seeded ledger)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from coupon_core import redis_keys
from coupon_dev.stack import SERVICES, Stack, with_database
from redis.asyncio import Redis
from support.api import call, item, redeem_body
from support.stacks import ADMIN_TOKEN, running_stack

ROOT = Path(__file__).resolve().parent.parent
SCALE = "0.0005"
# What bench/seed.py's Volume.at(0.0005) seeds.
EXPECTED = {
    "promotion": {"promotions": 4, "coupons": 500},
    "issuance": {"customers": 500, "series": 10, "issued_coupons": 500},
    "redemption": {"redemptions": 5000, "outbox": 5000, "idempotency_keys": 500},
}
LIMITED_COUPON = "PC0000000001"  # SEED-LIMITED: usage limit 2, redeemed twice
BIG_COUPON = "PC0000000100"  # SEED-BIG: no usage limit


@pytest.fixture(scope="module")
def seeded() -> Iterator[Stack]:
    with running_stack(replicas=1) as stack:
        command = [sys.executable, "-m", "bench.data", "seed", "--scale", SCALE]
        command += ["--database-url", stack.database_url, "--redis-url", stack.redis_url]
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        yield stack


async def _fetch(stack: Stack, service: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(with_database(stack.database_url, SERVICES[service][1]))
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_seeded_rows_match_the_ledger(seeded: Stack) -> None:
    for service, tables in EXPECTED.items():
        for table, count in tables.items():
            rows = await _fetch(seeded, service, f"SELECT count(*) AS n FROM {table}")
            assert rows[0]["n"] == count, f"{service}.{table}"
    by_code = {
        r["code"]: (r["group_ref"], r["n"])
        for r in await _fetch(
            seeded,
            "redemption",
            "SELECT code, group_ref, count(*) AS n FROM redemptions GROUP BY code, group_ref",
        )
    }
    promo = {
        r["code"]: (f"P:{r['promotion']}", r["used"])
        for r in await _fetch(
            seeded,
            "promotion",
            "SELECT c.code, p.code AS promotion, c.used FROM coupons c "
            "JOIN promotions p ON p.id = c.promotion_id",
        )
    }
    issued = {
        r["code"]: (f"S:{r['series_id']}", r["redemption_count"])
        for r in await _fetch(
            seeded, "issuance", "SELECT code, series_id, redemption_count FROM issued_coupons"
        )
    }
    # Every redeemed code is a coupon of the group the ledger names, and every coupon's
    # count of uses is its number of ledger rows.
    assert by_code == {code: uses for code, uses in {**promo, **issued}.items() if uses[1]}
    events = await _fetch(
        seeded,
        "redemption",
        "SELECT count(*) AS n FROM outbox o JOIN redemptions r "
        "ON (o.payload->>'redemptionId')::bigint = r.id AND o.payload->>'code' = r.code "
        "WHERE o.event_type = 'coupon.redeemed' AND o.published_at IS NOT NULL",
    )
    assert events[0]["n"] == EXPECTED["redemption"]["redemptions"]


async def test_seeded_coupons_redeem_with_counters_rebuilt_from_the_ledger(
    seeded: Stack,
) -> None:
    url = seeded.gateway_url + "/v1.1/coupon/redeem"
    before = await _fetch(
        seeded, "redemption", f"SELECT count(*) AS n FROM redemptions WHERE code = '{BIG_COUPON}'"
    )
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as s:
        _, limited, _ = await call(
            s, "POST", url, expect=200, json=redeem_body(LIMITED_COUPON, {"id": "1"})
        )
        _, big, _ = await call(
            s, "POST", url, expect=200, json=redeem_body(BIG_COUPON, {"id": "2"})
        )
    assert item(limited)["item_status"]["code"] == 711  # at its usage limit
    assert item(big)["item_status"]["code"] == 700
    redis: Redis = Redis.from_url(seeded.redis_url)
    try:
        used = await redis.get(redis_keys.redeemed_coupon("P:SEED-BIG", BIG_COUPON))
    finally:
        await redis.aclose()
    assert int(used or 0) == before[0]["n"] + 1
