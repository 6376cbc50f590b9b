"""Generation shows in /metrics: codes written, jobs ended, codes still pending."""

from __future__ import annotations

from typing import Any

from coupon_dev.testing.poll import until
from coupon_dev.testing.prometheus import Labels, samples
from promotion_service.app import create_app
from promotion_service.settings import Settings

BASE = "/api/v1/promotions/METRICS/coupons"


async def scrape(client: Any) -> dict[tuple[str, Labels], float]:
    text = await (await client.client.get("/metrics")).text()
    return samples(text)


async def test_generation_metrics(service_env: dict[str, Any], direct: Any) -> None:
    settings = Settings(**service_env, generation_sync_limit=10, job_poll_s=0.05)
    client = await direct(create_app(settings))
    created = await client.request(
        "POST", "/api/v1/promotions/", json={"code": "METRICS", "name": "M", "couponBased": True}
    )
    assert created.status == 201
    assert (await client.request("POST", f"{BASE}/generate", json={"amount": 7})).status == 201
    found = await scrape(client)
    assert found["coupon_generated_codes_total", ()] == 7

    started = await client.request("POST", f"{BASE}/generate", json={"amount": 40})
    assert started.status == 202
    href = (await started.json())["_links"]["self"]["href"]

    async def finished() -> bool:
        job = await (await client.request("GET", href)).json()
        return bool(job["state"] == "done")

    await until(finished, limit_s=60)

    async def counted() -> dict[tuple[str, Labels], float]:
        found = await scrape(client)
        done = found.get(("coupon_generation_jobs_total", (("state", "done"),)), 0)
        return found if done == 1 else {}

    found = await until(counted, limit_s=30)
    assert found["coupon_generated_codes_total", ()] == 47
    assert found["coupon_generation_pending_codes", ()] == 0
    assert found["outbox_oldest_unpublished_age_seconds", ()] >= 0
