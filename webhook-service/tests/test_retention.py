"""Retention of the webhook tables, in bounded batches (coupon_core.retention): attempts
past WEBHOOK_ATTEMPT_RETENTION_H; events past WEBHOOK_EVENT_RETENTION_H that no enabled
endpoint still waits for, with their deliveries and attempts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from coupon_core import retention
from coupon_core.keys import METRICS, PG_POOL
from coupon_dev.testing.prometheus import by_label
from webhook_service.app import SERVICE
from webhook_service.db import deliveries as deliveries_db
from webhook_service.domain import bodies
from webhook_service.keys import SETTINGS
from webhook_service.workers.retention import jobs

from .harness import subscribe

OLD, RECENT = timedelta(hours=800), timedelta(hours=1)  # the retentions are 720 hours


def _event(name: str) -> bodies.WebhookEvent:
    return bodies.build(
        event_id=f"evt_test_{name}",
        event_type="coupon.redeemed",
        occurred_at=datetime.now(UTC),
        data={"name": name},
    )


async def _age(pool: asyncpg.Pool, name: str, age: timedelta, status: str) -> None:
    """Make the event ``age`` old, its deliveries in ``status`` (a pending one waits for a
    later retry), each with one attempt as old."""
    event_id = f"evt_test_{name}"
    await pool.execute(
        "UPDATE webhook_events SET created_at = now() - $2::interval WHERE id = $1",
        event_id,
        age,
    )
    await pool.execute(
        "UPDATE webhook_deliveries SET status = $2, next_attempt_at = now() + interval '1 hour' "
        "WHERE event_id = $1",
        event_id,
        status,
    )
    await pool.execute(
        "INSERT INTO webhook_attempts (delivery_id, endpoint_id, event_id, attempted_at, "
        "outcome, latency_ms) SELECT id, endpoint_id, event_id, now() - $2::interval, "
        "'http_error', 1 FROM webhook_deliveries WHERE event_id = $1",
        event_id,
        age,
    )


async def test_what_is_past_retention_goes_in_batches(
    start_webhook: Callable[..., Awaitable[Any]],
) -> None:
    client = await start_webhook()
    app = client.app
    pool, settings = app[PG_POOL], app[SETTINGS]
    live = await subscribe(pool, settings, "https://93.184.215.14/a", ["coupon.redeemed"])
    gone = await subscribe(pool, settings, "https://93.184.215.14/b", ["coupon.redeemed"])
    names = ("old_done", "old_waited_for", "old_for_disabled", "recent_done", "recent_failed")
    async with pool.acquire() as conn:
        await deliveries_db.insert_events(conn, [_event(n) for n in names if n != "old_waited_for"])
        await pool.execute("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", gone.id)
        await deliveries_db.insert_events(conn, [_event("old_waited_for")])
        await pool.execute("UPDATE webhook_endpoints SET enabled = true WHERE id = $1", gone.id)
    await _age(pool, "old_done", OLD, "delivered")
    await _age(pool, "old_waited_for", OLD, "pending")
    await _age(pool, "recent_done", RECENT, "delivered")
    await _age(pool, "recent_failed", RECENT, "failed")
    await _age(pool, "old_for_disabled", OLD, "pending")
    # Only the disabled endpoint still waits for this one.
    await pool.execute(
        "UPDATE webhook_deliveries SET status = 'delivered' "
        "WHERE event_id = 'evt_test_old_for_disabled' AND endpoint_id = $1",
        live.id,
    )
    await pool.execute("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", gone.id)
    # A recent event's attempt may be old: the attempt log has its own retention.
    await pool.execute(
        "UPDATE webhook_attempts SET attempted_at = now() - interval '800 hours' "
        "WHERE event_id = 'evt_test_recent_failed'"
    )

    ran = await retention.run_pass(
        pool,
        jobs(app),
        service=SERVICE,
        batch=1,
        pause_s=0,
        metrics=retention.RetentionMetrics(app[METRICS]),
    )

    assert ran
    kept = await pool.fetch("SELECT id FROM webhook_events ORDER BY id")
    assert [row["id"] for row in kept] == [
        "evt_test_old_waited_for",
        "evt_test_recent_done",
        "evt_test_recent_failed",
    ]
    left = await pool.fetch(
        "SELECT event_id, count(*) AS n FROM webhook_attempts GROUP BY event_id ORDER BY 1"
    )
    assert [(row["event_id"], row["n"]) for row in left] == [("evt_test_recent_done", 2)]
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 5
    page = await (await client.get("/metrics")).text()
    removed = by_label(page, "retention_removed_total", "task")
    # Every old attempt (the attempt log goes first), then the two old events nobody waits
    # for (their deliveries went with them).
    assert (removed["webhook_attempts"], removed["webhook_events"]) == (7.0, 2.0)
