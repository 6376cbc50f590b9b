"""``GET /v2/coupon/issue/stats``: issues per hour and per day (UTC, zero-filled) and the
series' issues against their limits, from real issues, before and after the tally counts
them."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from coupon_core.timeseries import hour_of
from coupon_dev.testing.poll import until
from issuance_service.app import create_app
from issuance_service.db import tally as tally_db
from issuance_service.settings import Settings
from issuance_service.usecases import tally

STATS = "/v2/coupon/issue/stats"


@pytest.fixture
async def untallied(service_env: dict[str, Any], through_gateway: Any) -> TestClient[Any, Any]:
    """The service with no background tally: the test runs each pass itself."""
    settings = Settings(**service_env, issue_tally_interval_s=0)
    client: TestClient[Any, Any] = await through_gateway(create_app(settings))
    return client


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield created
    await created.close()


async def _series(api: Any, new_series: Any, description: str, max_create: int) -> int:
    body = new_series(description=description, maxCreate=max_create)
    created = await api.post("/v2/coupon/series", json=body)
    assert created.status == 201, await created.text()
    return int((await created.json())["id"])


async def _issue(api: Any, series_id: int, mobile: str, count: int = 1) -> None:
    body = {"seriesId": series_id, "customer": {"mobile": mobile}, "count": count}
    answer = await api.post("/v2/coupon/issue/multiple", json=body)
    assert answer.status == 200, await answer.text()


async def _stats(api: Any, query: str = "") -> dict[str, Any]:
    asked = datetime.now(UTC)
    answer = await api.get(f"{STATS}{query}")
    answered = datetime.now(UTC)
    assert answer.status == 200, await answer.text()
    body: dict[str, Any] = await answer.json()
    assert body["warnings"] == []
    # The series end with the hour and the day of the answer.
    assert hour_of(asked) <= _hour(body["issuesPerHour"][-1]["hour"]) <= hour_of(answered)
    last_day = date.fromisoformat(body["issuesPerDay"][-1]["day"])
    assert asked.date() <= last_day <= answered.date()
    return body


def _hour(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _issued_at(conn: asyncpg.Connection) -> list[datetime]:
    return [row["issued_at"] for row in await conn.fetch("SELECT issued_at FROM issued_coupons")]


def _check_series(body: dict[str, Any], ids: dict[str, int]) -> None:
    """What the series A (3 of 10), B (5, unlimited), C (1 of 4), D (none of 0) issued."""
    assert body["limitedSeries"] == [
        {"id": ids["D"], "description": "D", "numIssued": 0, "maxCreate": 0, "ratio": 1.0},
        {"id": ids["A"], "description": "A", "numIssued": 3, "maxCreate": 10, "ratio": 0.3},
        {"id": ids["C"], "description": "C", "numIssued": 1, "maxCreate": 4, "ratio": 0.25},
    ]
    assert body["topSeries"] == [
        {"id": ids["B"], "description": "B", "numIssued": 5, "maxCreate": -1},
        {"id": ids["A"], "description": "A", "numIssued": 3, "maxCreate": 10},
        {"id": ids["C"], "description": "C", "numIssued": 1, "maxCreate": 4},
    ]


def _check_buckets(body: dict[str, Any], stamps: list[datetime], hours: int, days: int) -> None:
    per_hour = [(_hour(b["hour"]), b["issued"]) for b in body["issuesPerHour"]]
    per_day = [(date.fromisoformat(b["day"]), b["issued"]) for b in body["issuesPerDay"]]
    assert (body["hours"], body["days"]) == (hours, days)
    assert len(per_hour) == hours
    assert len(per_day) == days
    # Consecutive UTC hours and days.
    assert all(b["hour"].endswith(":00:00Z") for b in body["issuesPerHour"])
    assert all((b[0] - a[0]).total_seconds() == 3600 for a, b in pairwise(per_hour))
    assert all((b[0] - a[0]).days == 1 for a, b in pairwise(per_day))
    hour_counts = Counter(hour_of(s) for s in stamps if hour_of(s) >= per_hour[0][0])
    day_counts = Counter(s.astimezone(UTC).date() for s in stamps)
    assert {h: n for h, n in per_hour if n} == dict(hour_counts)
    assert {d: n for d, n in per_day if n} == {
        d: n for d, n in day_counts.items() if d >= per_day[0][0]
    }


async def test_issues_per_hour_and_day_before_and_after_the_tally(
    untallied: Any, new_series: Any, conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    api = untallied
    empty = await _stats(api, "?hours=6&days=3")
    assert [b["issued"] for b in empty["issuesPerHour"]] == [0] * 6
    assert [b["issued"] for b in empty["issuesPerDay"]] == [0] * 3
    assert (empty["limitedSeries"], empty["topSeries"]) == ([], [])

    ids = {name: await _series(api, new_series, name, limit) for name, limit in
           (("A", 10), ("B", -1), ("C", 4), ("D", 0))}  # fmt: skip
    await _issue(api, ids["A"], "100", count=3)
    await _issue(api, ids["B"], "200", count=5)
    await _issue(api, ids["C"], "300")
    # Two of A's coupons as issued three hours ago, one of B's two days ago.
    await conn.execute(
        "UPDATE issued_coupons SET issued_at = issued_at - interval '3 hours' WHERE id IN "
        "(SELECT id FROM issued_coupons WHERE series_id = $1 ORDER BY id LIMIT 2)",
        ids["A"],
    )
    await conn.execute(
        "UPDATE issued_coupons SET issued_at = issued_at - interval '2 days' WHERE id = "
        "(SELECT min(id) FROM issued_coupons WHERE series_id = $1)",
        ids["B"],
    )
    stamps = await _issued_at(conn)

    before = await _stats(api, "?hours=6&days=3")
    _check_buckets(before, stamps, hours=6, days=3)
    _check_series(before, ids)
    assert sum(b["issued"] for b in before["issuesPerDay"]) == 9

    assert await tally.advance(pool, now=datetime.now(UTC))
    assert await conn.fetchval("SELECT sum(issued) FROM series_issued") >= 3  # the old ones
    after = await _stats(api, "?hours=6&days=3")  # the same numbers, now from the tallies
    _check_buckets(after, stamps, hours=6, days=3)
    _check_series(after, ids)

    await _issue(api, ids["C"], "301")
    stamps = await _issued_at(conn)
    latest = await _stats(api, "?hours=6&days=3")
    _check_buckets(latest, stamps, hours=6, days=3)
    assert [(s["description"], s["numIssued"], s["ratio"]) for s in latest["limitedSeries"]] == [
        ("D", 0, 1.0),
        ("C", 2, 0.5),
        ("A", 3, 0.3),
    ]

    default = await _stats(api)
    _check_buckets(default, stamps, hours=48, days=30)


async def test_passes_tally_each_coupon_once(
    untallied: Any, new_series: Any, conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    api = untallied
    series_id = await _series(api, new_series, "S", -1)
    now = datetime.now(UTC)  # before the issues: the coupons issued now stay untallied
    await _issue(api, series_id, "1", count=4)
    # One coupon issued 100 days ago: counted for its series, outside every hourly window.
    await conn.execute(
        "UPDATE issued_coupons SET issued_at = issued_at - interval '100 days' "
        "WHERE id = (SELECT min(id) FROM issued_coupons)"
    )
    # Two replicas at once: one tallies, the other finds nothing left to do.
    done = await asyncio.gather(tally.advance(pool, now=now), tally.advance(pool, now=now))
    assert sorted(done) == [False, True]
    assert not await tally.advance(pool, now=now)
    assert await conn.fetchval("SELECT issued FROM series_issued") == 1
    assert await conn.fetchval("SELECT count(*) FROM issue_hours") == 0
    body = await _stats(api)
    assert body["topSeries"][0]["numIssued"] == 4
    assert sum(b["issued"] for b in body["issuesPerDay"]) == 3


async def test_the_background_tally_moves_the_line(
    untallied: Any,
    service_env: dict[str, Any],
    through_gateway: Any,
    new_series: Any,
    conn: asyncpg.Connection,
) -> None:
    series_id = await _series(untallied, new_series, "S", -1)
    await _issue(untallied, series_id, "1", count=2)
    await conn.execute("UPDATE issued_coupons SET issued_at = issued_at - interval '1 day'")
    # A replica whose background task runs a pass every 50 ms.
    settings = Settings(**service_env, issue_tally_interval_s=0.05)
    api = await through_gateway(create_app(settings))

    async def tallied() -> Any:
        return await conn.fetchval("SELECT issued FROM series_issued")

    await until(tallied, "the background pass", equals=2)
    # The line is on the hour, at least ten minutes back.
    assert await conn.fetchval(
        "SELECT tallied_until = date_trunc('hour', tallied_until, 'UTC') "
        "AND tallied_until <= now() - interval '10 minutes' FROM issue_tally"
    )
    assert (await _stats(api))["topSeries"][0]["numIssued"] == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?hours=0", "hours"),
        ("?hours=169", "hours"),
        ("?days=91", "days"),
        ("?days=0", "days"),
        ("?days=week", "days"),
        ("?hours=", "hours"),
        ("?since=2026-01-01", "since"),
    ],
)
async def test_a_bad_window_is_refused_naming_the_field(
    untallied: Any, query: str, field: str
) -> None:
    answer = await untallied.get(f"{STATS}{query}")
    assert answer.status == 400
    body = await answer.json()
    assert list(body) == ["errors", "warnings"]
    ((error),) = body["errors"]
    assert error["code"] == 400
    assert error["message"].startswith(f"{field}: ")


async def test_the_recent_issues_are_read_through_the_brin_index(
    untallied: Any, new_series: Any, conn: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """A read counts only the coupons issued since the tally's line, found through the BRIN
    index on issued_at: a few block ranges at the end of the table, however long it is."""
    series_id = await _series(untallied, new_series, "S", -1)
    await _issue(untallied, series_id, "1")
    customer = await conn.fetchval("SELECT customer_id FROM issued_coupons")
    # Half a year of issues, in time order as issues write them.
    await conn.execute(
        "INSERT INTO issued_coupons (series_id, customer_id, code, valid_till, issued_at) "
        "SELECT $1, $2, 'OLD' || g, now() + interval '1 year', "
        "now() - interval '182 days' + g * interval '5 minutes' FROM generate_series(1, 50000) g",
        series_id,
        customer,
    )
    await conn.execute("ANALYZE issued_coupons")
    assert await tally.advance(pool, now=datetime.now(UTC))
    plan = str(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {tally_db.RECENT}"))
    assert "issued_coupons_recent" in plan
