"""generation.completed: one event per generation job, written in the transaction that
finishes it (its last batch, or its failure), whichever replica runs it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from coupon_dev.testing.plugin import outbox_payloads
from coupon_dev.testing.poll import until
from promotion_service.app import create_app
from promotion_service.settings import Settings

BASE = "/api/v1/promotions/HOLIDAY-SALE/coupons"
PROMOTION = {"code": "HOLIDAY-SALE", "name": "H", "couponBased": True}


@pytest.fixture
def small_batches(service_env: dict[str, Any]) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        fields: dict[str, Any] = {
            "generation_sync_limit": 100,
            "generation_batch_size": 100,
            "job_poll_s": 0.05,
            "facts_check_s": 0.05,
            **overrides,
        }
        return Settings(**service_env, **fields)

    return make


async def _completed(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return await outbox_payloads(conn, "generation.completed")


async def _job_ended(conn: asyncpg.Connection, job_id: int) -> str | None:
    state: str = await conn.fetchval("SELECT state FROM generation_jobs WHERE id = $1", job_id)
    return state if state in ("done", "failed") else None


async def test_a_finished_job_writes_one_generation_completed(
    small_batches: Callable[..., Settings], direct: Any, conn: asyncpg.Connection
) -> None:
    client = await direct(create_app(small_batches()))
    assert (await client.request("POST", "/api/v1/promotions/", json=PROMOTION)).status == 201
    started = await client.request("POST", f"{BASE}/generate", json={"amount": 350})
    assert started.status == 202
    job = await started.json()
    assert await until(lambda: _job_ended(conn, job["id"]), limit_s=60) == "done"
    [completed] = await _completed(conn)
    assert datetime.fromisoformat(completed.pop("completedAt"))
    assert completed == {
        "jobId": str(job["id"]),
        "promotionCode": "HOLIDAY-SALE",
        "requested": 350,
        "generated": 350,
        "status": "done",
    }
    # Generated within the request: no job, no event.
    assert (await client.request("POST", f"{BASE}/generate", json={"amount": 50})).status == 201
    assert len(await _completed(conn)) == 1
    await client.close()


async def test_a_job_taken_over_from_a_dead_replica_writes_one(
    small_batches: Callable[..., Settings], direct: Any, conn: asyncpg.Connection
) -> None:
    """A replica died holding a job (its lease lapsed); two live replicas race to take it
    over: the one that runs it to its end writes the one event."""
    replicas = [await direct(create_app(small_batches())) for _ in range(2)]
    assert (await replicas[0].request("POST", "/api/v1/promotions/", json=PROMOTION)).status == 201
    job_id = await conn.fetchval(
        "INSERT INTO generation_jobs (promotion_id, total, code_length, prefix, suffix, state, "
        "lease_owner, lease_until) SELECT id, 450, 10, '', '', 'running', 'dead-replica', "
        "now() - interval '1 second' FROM promotions WHERE code = 'HOLIDAY-SALE' RETURNING id"
    )
    assert await until(lambda: _job_ended(conn, job_id), limit_s=60) == "done"
    [completed] = await _completed(conn)
    assert (completed["jobId"], completed["generated"], completed["status"]) == (
        str(job_id),
        450,
        "done",
    )
    for client in replicas:
        await client.close()


async def test_a_failed_job_writes_one_generation_completed(
    small_batches: Callable[..., Settings], direct: Any, conn: asyncpg.Connection
) -> None:
    client = await direct(create_app(small_batches()))
    assert (await client.request("POST", "/api/v1/promotions/", json=PROMOTION)).status == 201
    # The third batch of the job cannot be stored: the job fails with 200 codes generated.
    await conn.execute(
        "CREATE FUNCTION refuse_third() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN IF (SELECT count(*) FROM coupons WHERE job_id IS NOT NULL) >= 200 THEN "
        "RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END$$;"
        "CREATE TRIGGER refuse_third BEFORE INSERT ON coupons "
        "FOR EACH ROW EXECUTE FUNCTION refuse_third()"
    )
    started = await client.request("POST", f"{BASE}/generate", json={"amount": 500})
    assert started.status == 202
    job_id = (await started.json())["id"]
    assert await until(lambda: _job_ended(conn, job_id), limit_s=60) == "failed"
    [completed] = await _completed(conn)
    assert (completed["requested"], completed["generated"], completed["status"]) == (
        500,
        200,
        "failed",
    )
    await client.close()


async def test_deleting_the_promotion_ends_its_job_with_one_event(
    small_batches: Callable[..., Settings], direct: Any, conn: asyncpg.Connection
) -> None:
    client = await direct(create_app(small_batches(generation_batch_size=1000)))
    assert (await client.request("POST", "/api/v1/promotions/", json=PROMOTION)).status == 201
    started = await client.request("POST", f"{BASE}/generate", json={"amount": 200_000})
    assert started.status == 202
    job_id = (await started.json())["id"]

    async def progressed() -> bool:
        return bool(await conn.fetchval("SELECT done > 0 FROM generation_jobs"))

    await until(progressed, limit_s=60)
    assert (await client.request("DELETE", "/api/v1/promotions/HOLIDAY-SALE")).status == 204
    # The job went with its promotion; its event says how it ended.
    [completed] = await _completed(conn)
    assert (completed["jobId"], completed["promotionCode"], completed["status"]) == (
        str(job_id),
        "HOLIDAY-SALE",
        "failed",
    )
    assert 0 < completed["generated"] < 200_000
    await client.close()
