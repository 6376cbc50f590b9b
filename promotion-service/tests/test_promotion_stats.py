"""``GET /api/v1/promotion-stats``: budget burn of limited promotions and coupons, the most
used promotions and the generation jobs, from real creates, redemption events and jobs."""

from __future__ import annotations

from typing import Any

import asyncpg
from coupon_dev.testing.poll import until
from promotion_service.app import create_app
from promotion_service.db import stats as stats_db
from promotion_service.domain.models import CouponLimits
from promotion_service.settings import Settings
from promotion_service.usecases import generation

STATS = "/api/v1/promotion-stats"
PROMOTIONS = "/api/v1/promotions"


async def stats(client: Any) -> dict[str, Any]:
    response = await client.get(STATS)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def _href(code: str) -> dict[str, Any]:
    return {"self": {"href": f"{PROMOTIONS}/{code}"}}


async def test_burn_and_top_promotions_follow_uses(
    api: Any, new_promotion: Any, redemption_events: Any
) -> None:
    await new_promotion(api, "ALPHA", usageLimit=10)
    await new_promotion(api, "BRAVO", usageLimit=4)
    await new_promotion(api, "CHARLIE")
    coupons: dict[str, dict[str, int | None]] = {
        "ALPHA": {"A1": 2, "A2": 5, "A3": None, "A4": 3},
        "BRAVO": {"B1": None},
        "CHARLIE": {"C1": 9},
    }
    for promotion, limits in coupons.items():
        for code, limit in limits.items():
            body: dict[str, Any] = {"code": code}
            if limit is not None:
                body["usageLimit"] = limit
            created = await api.post(f"{PROMOTIONS}/{promotion}/coupons/", json=body)
            assert created.status == 201, await created.text()

    before = await stats(api)
    assert before["limitedPromotions"] == [
        {"code": "ALPHA", "name": "Alpha", "used": 0, "usageLimit": 10, "ratio": 0.0,
         "_links": _href("ALPHA")},
        {"code": "BRAVO", "name": "Bravo", "used": 0, "usageLimit": 4, "ratio": 0.0,
         "_links": _href("BRAVO")},
    ]  # fmt: skip
    # Coupons nobody used are not listed; promotions nobody used are not the top.
    assert before["limitedCoupons"] == []
    assert before["topPromotions"] == []
    assert before["generationJobs"] == []

    await redemption_events(
        "ALPHA",
        [("coupon.redeemed", "A1")] * 2 + [("coupon.redeemed", "A2")] * 2
        + [("coupon.redeemed", "A3")] * 3 + [("coupon.redemption_reversed", "A2")],
    )  # fmt: skip
    await redemption_events("BRAVO", [("coupon.redeemed", "B1")] * 3)
    await redemption_events("CHARLIE", [("coupon.activated", "C1")] * 7)

    async def counted() -> dict[str, Any] | None:
        body = await stats(api)
        used = [p["used"] for p in body["topPromotions"]]
        return body if used == [7, 6, 3] else None

    after = await until(counted, "the uses counted")
    assert after["topPromotions"] == [
        {"code": "CHARLIE", "name": "Charlie", "used": 7, "_links": _href("CHARLIE")},
        {"code": "ALPHA", "name": "Alpha", "used": 6, "usageLimit": 10,
         "_links": _href("ALPHA")},
        {"code": "BRAVO", "name": "Bravo", "used": 3, "usageLimit": 4,
         "_links": _href("BRAVO")},
    ]  # fmt: skip
    assert [(p["code"], p["used"], p["ratio"]) for p in after["limitedPromotions"]] == [
        ("BRAVO", 3, 0.75),
        ("ALPHA", 6, 0.6),
    ]
    assert after["limitedCoupons"] == [
        {"promotionCode": "ALPHA", "code": "A1", "used": 2, "usageLimit": 2, "ratio": 1.0,
         "_links": {"self": {"href": f"{PROMOTIONS}/ALPHA/coupons/A1"}}},
        {"promotionCode": "CHARLIE", "code": "C1", "used": 7, "usageLimit": 9,
         "ratio": 0.7778, "_links": {"self": {"href": f"{PROMOTIONS}/CHARLIE/coupons/C1"}}},
        {"promotionCode": "ALPHA", "code": "A2", "used": 1, "usageLimit": 5, "ratio": 0.2,
         "_links": {"self": {"href": f"{PROMOTIONS}/ALPHA/coupons/A2"}}},
    ]  # fmt: skip


async def test_jobs_unfinished_first_then_the_last_finished(
    service_env: dict[str, Any], direct: Any, conn: asyncpg.Connection, database_url: str
) -> None:
    settings = Settings(
        **service_env, timezone="Europe/Paris", generation_sync_limit=100, job_poll_s=0.05
    )
    first = await direct(create_app(settings))
    for code in ("JOBS", "HELD"):
        body = {"code": code, "name": code, "couponBased": True}
        assert (await first.request("POST", f"{PROMOTIONS}/", json=body)).status == 201
    started = await first.request(
        "POST", f"{PROMOTIONS}/JOBS/coupons/generate", json={"amount": 300, "codeLength": 12}
    )
    assert started.status == 202
    job = await started.json()

    async def finished() -> bool:
        state = await (await first.request("GET", job["_links"]["self"]["href"])).json()
        return bool(state["state"] == "done")

    await until(finished, "the job done")
    await first.close()

    # A job another replica holds: queued, and not taken by the service started next.
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        held = await generation.start_job(
            pool,
            "HELD",
            generation.Request(
                amount=50_000, code_length=10, prefix="", suffix="", limits=CouponLimits()
            ),
        )
    finally:
        await pool.close()
    await conn.execute(
        "UPDATE generation_jobs SET lease_owner = 'elsewhere', "
        "lease_until = now() + interval '1 hour' WHERE id = $1",
        held.id,
    )

    second = await direct(create_app(settings))
    response = await second.request("GET", STATS)
    assert response.status == 200
    jobs = (await response.json())["generationJobs"]
    assert [
        (j["promotionCode"], j["jobId"], j["state"], j["requested"], j["generated"]) for j in jobs
    ] == [("HELD", held.id, "pending", 50_000, 0), ("JOBS", job["id"], "done", 300, 300)]
    assert jobs[0]["_links"] == {"self": {"href": f"{PROMOTIONS}/HELD/coupons/generate/{held.id}"}}
    assert jobs[1]["createdAt"] == job["createdAt"]
    assert jobs[1]["createdAt"].endswith(("+0100", "+0200"))  # the service's zone
    await second.close()


async def test_only_the_last_ten_finished_jobs(
    api: Any, new_promotion: Any, conn: asyncpg.Connection
) -> None:
    promotion = await new_promotion(api, "MANY")
    await conn.executemany(
        "INSERT INTO generation_jobs (promotion_id, state, total, done, code_length) "
        "VALUES ($1, $2, 10, $3, 8)",
        [(promotion["id"], "done" if n % 2 else "failed", n % 2 * 10) for n in range(12)],
    )
    jobs = (await stats(api))["generationJobs"]
    ids = [j["jobId"] for j in jobs]
    newest = await conn.fetchval("SELECT max(id) FROM generation_jobs")
    assert ids == list(range(newest, newest - 10, -1))
    assert {j["state"] for j in jobs} == {"done", "failed"}


async def test_a_query_parameter_is_refused_in_the_sylius_envelope(api: Any) -> None:
    response = await api.get(f"{STATS}?limit=5")
    assert response.status == 400
    body = await response.json()
    assert body["code"] == 400
    assert body["message"] == "Validation Failed"
    assert list(body["errors"]["children"]) == ["limit"]
    assert (await api.get(f"{STATS}/")).status == 200


async def test_the_limited_coupons_are_read_from_their_index(
    api: Any, conn: asyncpg.Connection
) -> None:
    """On millions of coupons the top 20 by burn comes from the partial index of the used
    limited coupons, in its order: no scan of the table, no sort. (The planner would scan
    this test's empty table anyway; with scans priced out it shows the index serves.)"""
    assert (await api.get(STATS)).status == 200  # the service has migrated the database
    await conn.execute("SET enable_seqscan = off")
    plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {stats_db.LIMITED_COUPONS}", 20)
    nodes = str(plan)
    assert "coupons_burn" in nodes
    assert '"Sort"' not in nodes
