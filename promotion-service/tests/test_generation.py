"""Bulk generation: synchronous up to 10,000 codes, a resumable background job above."""

from __future__ import annotations

import csv
import io
import itertools
import re
from typing import Any

import asyncpg
from coupon_core import code_registry, facts, redis_keys
from coupon_dev.testing.poll import until
from promotion_service.app import create_app
from promotion_service.db import generation as generation_db
from promotion_service.domain.codes import ALPHABET
from promotion_service.domain.models import CouponLimits

BASE = "/api/v1/promotions/HOLIDAY-SALE/coupons"
GROUP = "P:HOLIDAY-SALE"
FORM = (
    "amount",
    "prefix",
    "codeLength",
    "suffix",
    "usageLimit",
    "perCustomerUsageLimit",
    "expiresAt",
)


async def total(api: Any) -> int:
    count: int = (await (await api.get(f"{BASE}/")).json())["total"]
    return count


async def test_synchronous_generation(api: Any, redis: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    response = await api.post(
        f"{BASE}/generate",
        json={
            "amount": 500,
            "codeLength": 8,
            "prefix": "XM-",
            "suffix": "-Z",
            "usageLimit": 2,
            "perCustomerUsageLimit": 1,
            "expiresAt": "2031-01-01",
        },
    )
    assert response.status == 201
    assert await response.json() == {"amount": 500}
    assert await total(api) == 500
    page = await (await api.get(f"{BASE}/?limit=100")).json()
    shape = re.compile(f"^XM-[{ALPHABET}]{{8}}-Z$")
    for item in page["_embedded"]["items"]:
        assert shape.match(item["code"]), item["code"]
        assert item["usageLimit"] == 2
        assert item["expiresAt"] == "2031-01-01T00:00:00+0100"
    code = page["_embedded"]["items"][0]["code"]
    assert await code_registry.owner_of(redis, code) == GROUP
    _, coupon = await facts.read(redis, GROUP, code)
    assert coupon is not None
    assert (coupon.usage_limit, coupon.per_customer_limit) == (2, 1)
    single = await (await api.get(f"{BASE}/{code}")).json()
    assert single["perCustomerUsageLimit"] == 1


async def test_generation_refusals(api: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    await new_promotion(api, "PLAIN", couponBased=False)

    async def refused(body: dict[str, Any], field: str, path: str = f"{BASE}/generate") -> None:
        response = await api.post(path, json=body)
        assert response.status == 400, body
        result = await response.json()
        children = result["errors"]["children"]
        assert list(children) == list(FORM)
        assert children[field]["errors"], body

    # 20 characters, 2 long: 400 codes, far too few for 100 unique ones.
    await refused({"amount": 100, "codeLength": 2}, "codeLength")
    await refused({}, "amount")
    await refused({"amount": 0}, "amount")
    await refused({"amount": "many"}, "amount")
    await refused({"amount": 10**12}, "amount")
    await refused({"amount": 5, "codeLength": 41}, "codeLength")
    await refused({"amount": 5, "prefix": "a b"}, "prefix")
    await refused({"amount": 5, "suffix": "S" * 21}, "suffix")
    await refused({"amount": 5, "usageLimit": -3}, "usageLimit")
    await refused({"amount": 5, "expiresAt": "tomorrow"}, "expiresAt")
    plain = await api.post("/api/v1/promotions/PLAIN/coupons/generate", json={"amount": 5})
    assert plain.status == 400
    unknown = await api.post("/api/v1/promotions/NOPE/coupons/generate", json={"amount": 5})
    assert unknown.status == 404
    assert (await api.get(f"{BASE}/generate/12345")).status == 404
    assert (await api.get(f"{BASE}/generate/abc")).status == 404
    assert (await api.get(f"{BASE}/generate/%C2%B9")).status == 404  # "¹": isdigit() but no int
    assert await total(api) == 0


async def job_state(client: Any, href: str) -> dict[str, Any]:
    response = await client.request("GET", href)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_job_of_200k_survives_a_restart(
    settings: Any, direct: Any, database_url: str, redis: Any
) -> None:
    first = await direct(create_app(settings))
    created = await first.request(
        "POST",
        "/api/v1/promotions/",
        json={"code": "HOLIDAY-SALE", "name": "H", "couponBased": True},
    )
    assert created.status == 201
    started = await first.request(
        "POST", f"{BASE}/generate", json={"amount": 200_000, "codeLength": 12, "usageLimit": 1}
    )
    assert started.status == 202
    job = await started.json()
    href = job["_links"]["self"]["href"]
    assert started.headers["Location"] == href
    assert job["total"] == 200_000
    assert job["state"] in ("pending", "running")

    # Stop the service once the job is under way, and start another on the same stores.
    await until(lambda: _progressed(first, href), limit_s=60)
    await first.close()
    conn = await asyncpg.connect(database_url)
    try:
        stopped_at = await conn.fetchval("SELECT done FROM generation_jobs")
        assert 0 < stopped_at < 200_000
        assert await conn.fetchval("SELECT count(*) FROM coupons") == stopped_at

        second = await direct(create_app(settings))
        finished = await until(lambda: _finished(second, href), limit_s=100)
        assert finished["done"] == 200_000
        rows = await conn.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT code) AS distinct_codes FROM coupons"
        )
        assert rows is not None
        assert (rows["n"], rows["distinct_codes"]) == (200_000, 200_000)
        # Resumed by another service, finished once: one generation.completed.
        completed = await conn.fetch(
            "SELECT payload->>'generated' AS n FROM outbox "
            "WHERE event_type = 'generation.completed'"
        )
        assert [r["n"] for r in completed] == ["200000"]
    finally:
        await conn.close()

    export = await second.request("GET", f"{BASE}/export.csv")
    assert export.status == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(await export.text())))
    assert lines[0] == [
        "code",
        "usageLimit",
        "used",
        "expiresAt",
        "perCustomerUsageLimit",
        "createdAt",
    ]
    codes = {line[0] for line in lines[1:]}
    assert len(lines) - 1 == len(codes) == 200_000
    assert all(len(code) == 12 and set(code) <= set(ALPHABET) for code in codes)

    # Every code is ours in the registry and has its facts.
    ordered = sorted(codes)
    for start in range(0, len(ordered), 20_000):
        chunk = ordered[start : start + 20_000]
        # Single-key reads in a pipeline: the keys lie in every slot of a cluster.
        assert set(await code_registry.owners_of(redis, chunk)) == {GROUP}
        async with redis.pipeline(transaction=False) as pipe:
            for code in chunk:
                pipe.exists(redis_keys.coupon_facts(GROUP, code))
            assert sum(await pipe.execute()) == len(chunk)
    await second.close()


async def _progressed(client: Any, href: str) -> bool:
    return bool((await job_state(client, href))["done"] > 0)


async def _finished(client: Any, href: str) -> dict[str, Any] | None:
    state = await job_state(client, href)
    assert state["state"] != "failed", state
    return state if state["state"] == "done" else None


async def test_deleting_a_promotion_stops_its_job(
    service_env: dict[str, Any], direct: Any, redis: Any
) -> None:
    from promotion_service.settings import Settings

    settings = Settings(
        **service_env, generation_sync_limit=100, generation_batch_size=1000, job_poll_s=0.05
    )
    client = await direct(create_app(settings))
    body = {"code": "HOLIDAY-SALE", "name": "H", "couponBased": True}
    assert (await client.request("POST", "/api/v1/promotions/", json=body)).status == 201
    started = await client.request("POST", f"{BASE}/generate", json={"amount": 50_000})
    assert started.status == 202
    href = (await started.json())["_links"]["self"]["href"]
    await until(lambda: _progressed(client, href), limit_s=60)
    assert (await client.request("DELETE", "/api/v1/promotions/HOLIDAY-SALE")).status == 204

    async def nothing_left() -> bool:
        owners = [k async for k in redis.scan_iter(match="{C:*}:owner", count=10_000)]
        facts_left = [k async for k in redis.scan_iter(match="{P:HOLIDAY-SALE}:*", count=10_000)]
        return not owners and not facts_left

    await until(nothing_left, limit_s=30)
    assert (await client.request("GET", "/api/v1/promotions/HOLIDAY-SALE")).status == 404
    await client.close()


async def test_a_job_steps_past_codes_the_registry_forgot(
    service_env: dict[str, Any], direct: Any, database_url: str, redis: Any
) -> None:
    """Coupons in the table whose registry entries Redis lost clash with a job's batches:
    the job stores the rest of each batch, gives the clashed codes back and reserves more."""
    from promotion_service.settings import Settings

    settings = Settings(
        **service_env, generation_sync_limit=100, generation_batch_size=100, job_poll_s=0.05
    )
    client = await direct(create_app(settings))
    for code in ("HOLIDAY-SALE", "OLD-SALE"):
        body = {"code": code, "name": code.title(), "couponBased": True}
        assert (await client.request("POST", "/api/v1/promotions/", json=body)).status == 201
    # Once the facts are published, nothing republishes (and so reserves again) what the table
    # holds: half of the three-character codes are then in the table, unknown to Redis.
    await until(lambda: redis.exists(redis_keys.facts_ready("promotion")))
    every = ["".join(chars) for chars in itertools.product(ALPHABET, repeat=3)]
    forgotten = every[: len(every) // 2]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO coupons (promotion_id, code) "
            "SELECT id, unnest($1::text[]) FROM promotions WHERE code = 'OLD-SALE'",
            forgotten,
        )
        started = await client.request(
            "POST", f"{BASE}/generate", json={"amount": 150, "codeLength": 3}
        )
        assert started.status == 202
        href = (await started.json())["_links"]["self"]["href"]
        finished = await until(lambda: _finished(client, href), limit_s=60)
        assert finished["done"] == 150
        rows = await conn.fetch(
            "SELECT c.code FROM coupons c JOIN promotions p ON p.id = c.promotion_id "
            "WHERE p.code = 'HOLIDAY-SALE'"
        )
    finally:
        await conn.close()
    generated = {row["code"] for row in rows}
    assert len(generated) == 150
    assert not generated & set(forgotten)
    owners = dict(zip(every, await code_registry.owners_of(redis, every), strict=True))
    assert {code for code, owner in owners.items() if owner == GROUP} == generated
    assert [code for code in forgotten if owners[code] is not None] == []
    await client.close()


async def test_a_reservation_that_got_no_codes_makes_an_empty_batch(
    api: Any, new_promotion: Any, database_url: str
) -> None:
    """Every random code of a reservation can be taken already (likelier the shorter the codes):
    the batch then inserts nothing, and generation goes on reserving."""
    promotion = await new_promotion(api)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            inserted = await generation_db.insert_batch(
                conn, promotion_id=promotion["id"], job_id=None, codes=[], limits=CouponLimits()
            )
    finally:
        await conn.close()
    assert inserted == []
