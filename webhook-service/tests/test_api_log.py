"""The catalogue, an endpoint's deliveries and attempt log (filters, pages, refusals of bad
ones), test events and redelivery, through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from webhook_service.domain.catalogue import CATALOGUE, example_body

BASE = "/api/v1/webhooks"
Client = TestClient[Any, Any]
T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
async def db(api: Client, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
async def endpoint(api: Client) -> int:
    """A disabled endpoint: the deliveries the tests record for it are never attempted."""
    body = {"url": "https://93.184.215.14/hooks", "events": ["*"], "enabled": False}
    response = await api.post(BASE, json=body)
    assert response.status == 201, await response.text()
    webhook_id: int = (await response.json())["id"]
    return webhook_id


async def _record(
    db: asyncpg.Connection, endpoint: int, number: int, status: str, outcomes: list[str]
) -> int:
    """An event, its delivery to ``endpoint`` in ``status``, and one attempt per outcome,
    a minute apart from T0 + ``number`` hours."""
    event_id = f"evt_redemption_{number}"
    await db.execute(
        "INSERT INTO webhook_events (id, type, body, occurred_at) VALUES ($1, $2, '{}', $3)",
        event_id,
        "coupon.redeemed" if number % 2 else "coupon.issued",
        T0,
    )
    delivery_id: int = await db.fetchval(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, "
        "first_attempt_at, last_attempt_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        endpoint,
        event_id,
        status,
        len(outcomes),
        T0 + timedelta(hours=number) if outcomes else None,
        T0 + timedelta(hours=number, minutes=len(outcomes) - 1) if outcomes else None,
    )
    for n, outcome in enumerate(outcomes):
        await db.execute(
            "INSERT INTO webhook_attempts (delivery_id, endpoint_id, event_id, attempted_at, "
            "outcome, http_status, latency_ms, response_head, error) "
            "VALUES ($1, $2, $3, $4, $5, $6, 12.5, $7, $8)",
            delivery_id,
            endpoint,
            event_id,
            T0 + timedelta(hours=number, minutes=n),
            outcome,
            200 if outcome == "delivered" else 500 if outcome == "http_error" else None,
            "ok" if outcome == "delivered" else "",
            None if outcome in ("delivered", "http_error") else "timed out",
        )
    return delivery_id


async def test_the_catalogue_lists_every_type_with_an_example_body(api: Client) -> None:
    response = await api.get(f"{BASE}/event-types")
    assert response.status == 200
    listed = (await response.json())["eventTypes"]
    assert [t["type"] for t in listed] == [entry.type for entry in CATALOGUE]
    for shown, entry in zip(listed, CATALOGUE, strict=True):
        assert shown["description"] == entry.description
        assert shown["subscribable"] is entry.subscribable
        assert shown["example"] == example_body(entry)


async def test_deliveries_newest_first_filtered_and_paged(
    api: Client, db: asyncpg.Connection, endpoint: int
) -> None:
    ids = [
        await _record(db, endpoint, 1, "delivered", ["http_error", "delivered"]),
        await _record(db, endpoint, 2, "failed", ["timeout"]),
        await _record(db, endpoint, 3, "pending", []),
    ]
    path = f"{BASE}/{endpoint}/deliveries"
    listed = (await (await api.get(path)).json())["deliveries"]
    assert [d["id"] for d in listed] == ids[::-1]
    newest = listed[0]
    assert (newest["eventId"], newest["eventType"], newest["status"]) == (
        "evt_redemption_3",
        "coupon.redeemed",
        "pending",
    )
    assert newest["nextAttemptAt"] is not None
    assert newest["lastAttemptAt"] is None
    first = listed[2]
    assert (first["attempts"], first["nextAttemptAt"]) == (2, None)
    assert datetime.fromisoformat(first["lastAttemptAt"]) == T0 + timedelta(hours=1, minutes=1)

    failed = (await (await api.get(path, params={"status": "failed"})).json())["deliveries"]
    assert [d["id"] for d in failed] == [ids[1]]
    page = (await (await api.get(path, params={"limit": "2"})).json())["deliveries"]
    assert [d["id"] for d in page] == [ids[2], ids[1]]
    rest = await api.get(path, params={"limit": "2", "before": str(page[-1]["id"])})
    assert [d["id"] for d in (await rest.json())["deliveries"]] == [ids[0]]


async def test_the_attempt_log_with_its_filters(
    api: Client, db: asyncpg.Connection, endpoint: int
) -> None:
    await _record(db, endpoint, 1, "delivered", ["http_error", "delivered"])
    await _record(db, endpoint, 2, "failed", ["timeout"])
    path = f"{BASE}/{endpoint}/attempts"
    log = (await (await api.get(path)).json())["attempts"]
    assert [(a["eventId"], a["outcome"]) for a in log] == [
        ("evt_redemption_2", "timeout"),
        ("evt_redemption_1", "delivered"),
        ("evt_redemption_1", "http_error"),
    ]
    delivered = log[1]
    assert delivered["httpStatus"] == 200
    assert delivered["latencyMs"] == 12.5
    assert delivered["response"] == "ok"
    assert delivered["eventType"] == "coupon.redeemed"
    assert log[0]["error"] == "timed out"
    assert log[0]["httpStatus"] is None

    since = (T0 + timedelta(hours=1, minutes=1)).isoformat()
    recent = (await (await api.get(path, params={"since": since})).json())["attempts"]
    assert [a["outcome"] for a in recent] == ["timeout", "delivered"]
    errors = (await (await api.get(path, params={"outcome": "http_error"})).json())["attempts"]
    assert [a["outcome"] for a in errors] == ["http_error"]
    older = await api.get(path, params={"before": str(log[0]["id"]), "limit": "1"})
    assert [a["outcome"] for a in (await older.json())["attempts"]] == ["delivered"]


@pytest.mark.parametrize(
    ("tail", "query", "field"),
    [
        ("/deliveries", {"status": "lost"}, "status"),
        ("/deliveries", {"limit": "0"}, "limit"),
        ("/deliveries", {"limit": "1001"}, "limit"),
        ("/deliveries", {"limit": "2.5"}, "limit"),
        ("/deliveries", {"before": "x"}, "before"),
        ("/deliveries", {"before": "0"}, "before"),
        ("/attempts", {"since": "yesterday"}, "since"),
        ("/attempts", {"since": "1765000000"}, "since"),
        ("/attempts", {"since": "0001-01-01T00:00:00+08:00"}, "since"),
        ("/attempts", {"outcome": "ok"}, "outcome"),
        ("/attempts", {"limit": ""}, "limit"),
        ("/attempts", {"sinse": "2026-12-06T00:00:00Z"}, "sinse"),
    ],
)
async def test_a_bad_filter_or_page_is_refused(
    api: Client, endpoint: int, tail: str, query: dict[str, str], field: str
) -> None:
    response = await api.get(f"{BASE}/{endpoint}{tail}", params=query)
    assert response.status == 400, await response.text()
    body = await response.json()
    assert (body["status"], body["code"]) == ("error", "invalid_input")
    assert field in body["message"]


async def test_a_test_event_is_queued_for_that_endpoint_only(
    api: Client, db: asyncpg.Connection, endpoint: int
) -> None:
    other = await api.post(BASE, json={"url": "https://93.184.215.15/", "events": ["*"]})
    assert other.status == 201
    response = await api.post(f"{BASE}/{endpoint}/test")
    assert response.status == 202, await response.text()
    event_id = (await response.json())["eventId"]
    assert event_id.startswith("evt_webhook_")
    rows = await db.fetch(
        "SELECT d.endpoint_id, e.type FROM webhook_deliveries d "
        "JOIN webhook_events e ON e.id = d.event_id WHERE d.event_id = $1",
        event_id,
    )
    assert [(r["endpoint_id"], r["type"]) for r in rows] == [(endpoint, "webhook.test")]
    listed = (await (await api.get(f"{BASE}/{endpoint}/deliveries")).json())["deliveries"]
    assert [(d["eventId"], d["eventType"], d["status"]) for d in listed] == [
        (event_id, "webhook.test", "pending")
    ]


async def test_one_event_is_queued_again(
    api: Client, db: asyncpg.Connection, endpoint: int
) -> None:
    delivery = await _record(db, endpoint, 2, "failed", ["timeout"])
    path = f"{BASE}/{endpoint}/redeliver"
    response = await api.post(path, json={"eventId": "evt_redemption_2"})
    assert response.status == 202, await response.text()
    assert await response.json() == {"queued": 1}
    status = await db.fetchval("SELECT status FROM webhook_deliveries WHERE id = $1", delivery)
    assert status == "pending"
    unknown = await api.post(path, json={"eventId": "evt_redemption_404"})
    assert await unknown.json() == {"queued": 0}


async def test_every_failed_delivery_since_a_time_is_queued_again(
    api: Client, db: asyncpg.Connection, endpoint: int
) -> None:
    await _record(db, endpoint, 1, "delivered", ["delivered"])
    failed = [
        await _record(db, endpoint, 2, "failed", ["timeout"]),
        await _record(db, endpoint, 3, "failed", ["http_error"]),
    ]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = await api.post(f"{BASE}/{endpoint}/redeliver", json={"since": since})
    assert response.status == 202, await response.text()
    assert await response.json() == {"queued": 2}
    rows = await db.fetch("SELECT id, status FROM webhook_deliveries ORDER BY id")
    assert {r["id"] for r in rows if r["status"] == "pending"} == set(failed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "eventId or since"),
        ({"eventId": "evt_redemption_2", "since": "2026-12-06T00:00:00Z"}, "eventId or since"),
        ({"eventId": 2}, "eventId"),
        ({"eventId": ""}, "eventId"),
        ({"eventId": "evt_redemption_2", "status": "failed"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"since": 1765000000}, "since"),
        ({"since": "2026-12-06T00:00:00Z", "status": "lost"}, "status"),
        ({"since": "2026-12-06T00:00:00Z", "all": True}, "all"),
    ],
)
async def test_a_bad_redelivery_is_refused_and_queues_nothing(
    api: Client, db: asyncpg.Connection, endpoint: int, body: dict[str, Any], field: str
) -> None:
    await _record(db, endpoint, 2, "failed", ["timeout"])
    response = await api.post(f"{BASE}/{endpoint}/redeliver", json=body)
    assert response.status == 400, await response.text()
    answer = await response.json()
    assert (answer["status"], answer["code"]) == ("error", "invalid_input")
    assert field in answer["message"]
    assert await db.fetchval("SELECT status FROM webhook_deliveries") == "failed"
