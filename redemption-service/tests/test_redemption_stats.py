"""``GET /v2/coupon/redemptions/stats``: redemptions and reversals per hour and per day,
what redeem answered per item (refusals included), and the top promotions and series,
after real redeems on two replicas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from coupon_core.identity import Principal
from coupon_core.keys import METRICS, PG_POOL
from coupon_dev.testing.plugin import signed_as
from coupon_dev.testing.poll import until
from redemption_service.app import create_app
from redemption_service.keys import OUTCOMES
from redemption_service.settings import Settings
from redemption_service.workers.stats import flush, roll_up
from redis.asyncio import Redis

from .conftest import API_CLIENT, coupon_in, post_signed, publish_customer, publish_group
from .conftest import redeem_body as body_of

STATS = "/v2/coupon/redemptions/stats"
OK, NOT_REDEEMED = (
    "Coupon processing successful",
    ("Coupon valid but not redeemed: another coupon in the request failed"),
)


@pytest.fixture
def settings(service_env: dict[str, Any]) -> Settings:
    return Settings(**service_env, reconcile_interval_s=0, stats_flush_s=0.05)


@pytest.fixture
async def facts(redis: Redis) -> None:
    await publish_customer(redis, "c-1", mobile="111")
    await publish_customer(redis, "c-2", mobile="222")
    await publish_group(redis, "S:40", ["S1", "S2", "S3"], coupon={"usage_limit": 1})
    await publish_group(redis, "S:41", ["T1"])
    await publish_group(redis, "P:TOP", ["P1", "P2"])


async def get(http: aiohttp.ClientSession, base: str, query: str = "") -> tuple[int, Any]:
    async with http.get(f"{base}{STATS}{query}", middlewares=(signed_as(API_CLIENT),)) as resp:
        return resp.status, await resp.json()


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def test_empty_series_are_zero_filled_in_utc_buckets(
    replicas: list[str], http: aiohttp.ClientSession
) -> None:
    before = datetime.now(UTC)
    status, body = await get(http, replicas[0], "?hours=3&days=2")
    after = datetime.now(UTC)
    assert status == 200, body
    assert (body["hours"], body["days"], body["warnings"]) == (3, 2, [])
    hours = [datetime.fromisoformat(h["hour"]) for h in body["hourly"]]
    assert hours[-1] in (hour_start(before), hour_start(after))
    assert hours == [hours[-1] - timedelta(hours=n) for n in (2, 1, 0)]
    assert all(h.utcoffset() == timedelta(0) for h in hours)
    assert [(h["redemptions"], h["reversals"]) for h in body["hourly"]] == [(0, 0)] * 3
    days = [d["day"] for d in body["daily"]]
    assert days[-1] in (before.date().isoformat(), after.date().isoformat())
    assert days[0] == (datetime.fromisoformat(days[-1]) - timedelta(days=1)).date().isoformat()
    assert [(d["redemptions"], d["reversals"], d["outcomes"]) for d in body["daily"]] == [
        (0, 0, [])
    ] * 2
    assert (body["outcomes"], body["topPromotions"], body["topSeries"]) == ([], [], [])
    default = (await get(http, replicas[0]))[1]
    assert (len(default["hourly"]), len(default["daily"])) == (48, 30)


def item_of(answer: Any) -> list[dict[str, Any]]:
    coupons = answer["response"]["coupons"]["coupon"]
    return coupons if isinstance(coupons, list) else [coupons]


async def test_what_redeem_answered_on_every_replica_is_counted(
    replicas: list[str], http: aiohttp.ClientSession, facts: None
) -> None:
    one, two = replicas
    answers = [
        await post_signed(http, one, "/v1.1/coupon/redeem", body_of(coupon_in("S1", "111"))),
        await post_signed(http, two, "/v1.1/coupon/redeem", body_of(coupon_in("S2", "222"))),
        await post_signed(http, one, "/v1.1/coupon/redeem", body_of(coupon_in("P1", "111"))),
        await post_signed(http, two, "/v1.1/coupon/redeem", body_of(coupon_in("P2", "222"))),
        await post_signed(http, one, "/v1.1/coupon/redeem", body_of(coupon_in("T1", "111"))),
        # Refusals: used up (711), unknown code (719), unknown customer (701), and an
        # all-or-nothing request whose valid coupon is not redeemed (700, not redeemed).
        await post_signed(http, two, "/v1.1/coupon/redeem", body_of(coupon_in("S1", "222"))),
        await post_signed(http, one, "/v1.1/coupon/redeem", body_of(coupon_in("NOPE", "111"))),
        await post_signed(http, two, "/v1.1/coupon/redeem", body_of(coupon_in("S3", "999"))),
        await post_signed(
            http,
            one,
            "/v1.1/coupon/redeem",
            body_of(coupon_in("S3", "111"), coupon_in("S2", "111")),
        ),
    ]
    assert all(status == 200 for status, _ in answers), answers
    codes = [
        (i["item_status"]["code"], i["redemption_id"] != "") for _, a in answers for i in item_of(a)
    ]
    assert codes == [(700, True)] * 5 + [(711, False), (719, False), (701, False)] + [
        (700, False),
        (711, False),
    ]
    first = item_of(answers[0][1])[0]["redemption_id"]
    status, _ = await post_signed(
        http, two, f"/v2/coupon/redemptions/{first}/reverse", {"reason": "refund"}
    )
    assert status == 200

    async def today() -> Any:
        return (await get(http, one, "?hours=2&days=3"))[1]

    def outcomes(body: Any) -> list[tuple[int, bool, str, int]]:
        return [(o["status"], o["success"], o["message"], o["count"]) for o in body["outcomes"]]

    expected = [
        (700, False, NOT_REDEEMED, 1),
        (700, True, OK, 5),
        (701, False, "Customer not found", 1),
        (711, False, "Coupon already used", 2),
        (719, False, "Coupon code does not exist", 1),
    ]
    body = await until(lambda: _counted(today, expected), "the tallies of both replicas")
    # Summed over the buckets: the test may straddle an hour or a day.
    for series in ("hourly", "daily"):
        assert sum(b["redemptions"] for b in body[series]) == 5, body[series]
        assert sum(b["reversals"] for b in body[series]) == 1, body[series]
    daily: dict[tuple[int, bool], int] = {}
    for day in body["daily"]:
        for o in day["outcomes"]:
            daily[o["status"], o["success"]] = (
                daily.get((o["status"], o["success"]), 0) + o["count"]
            )
    assert daily == {(s, ok): n for s, ok, _, n in expected}
    assert body["topPromotions"] == [{"promotionCode": "TOP", "redemptions": 2}]
    assert body["topSeries"] == [
        {"seriesId": 40, "redemptions": 2},
        {"seriesId": 41, "redemptions": 1},
    ]
    assert outcomes(body) == expected


async def _counted(fetch: Any, expected: list[tuple[int, bool, str, int]]) -> Any:
    body = await fetch()
    got = [(o["status"], o["success"], o["message"], o["count"]) for o in body["outcomes"]]
    return body if got == expected else None


async def test_a_stopping_replica_flushes_its_tallies(
    aiohttp_client: Any, service_env: dict[str, Any], facts: None, database_url: str
) -> None:
    # A flush interval far longer than the test: only the shutdown's flush can write.
    app = create_app(Settings(**service_env, reconcile_interval_s=0, stats_flush_s=300))
    client = await aiohttp_client(app)
    resp = await client.post(
        "/v1.1/coupon/redeem",
        json=body_of(coupon_in("S1", "111")),
        middlewares=(signed_as(API_CLIENT),),
    )
    assert resp.status == 200
    await client.close()
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT status, redeemed, n FROM redemption_outcomes")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [(700, True, 1)]


async def test_a_refused_flush_keeps_its_tallies_for_the_next(
    aiohttp_client: Any, service_env: dict[str, Any], facts: None, database_url: str
) -> None:
    app = create_app(Settings(**service_env, reconcile_interval_s=0, stats_flush_s=300))
    client = await aiohttp_client(app)
    resp = await client.post(
        "/v1.1/coupon/redeem",
        json=body_of(coupon_in("NOPE", "111")),
        middlewares=(signed_as(API_CLIENT),),
    )
    assert resp.status == 200
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE redemption_outcomes RENAME TO away")
        assert await flush(app) is False  # the server refused the statement: nothing written
        await conn.execute("ALTER TABLE away RENAME TO redemption_outcomes")
        assert await flush(app) is True
        assert app[OUTCOMES].pending == 0
        rows = await conn.fetch("SELECT status, redeemed, n FROM redemption_outcomes")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [(719, False, 1)]


@pytest.mark.parametrize(
    ("field", "query"),
    [
        ("hours", "?hours=0"),
        ("hours", "?hours=169"),
        ("hours", "?hours=two"),
        ("days", "?days=0"),
        ("days", "?days=91"),
        ("days", "?days=1.5"),
    ],
)
async def test_bounds_are_checked_naming_the_field(
    replicas: list[str], http: aiohttp.ClientSession, field: str, query: str
) -> None:
    status, body = await get(http, replicas[0], query)
    assert status == 400, body
    assert body["errors"][0]["code"] == 400
    assert body["errors"][0]["message"].startswith(f"{field}: ")
    assert body["warnings"] == []


async def test_a_user_token_may_not_read_the_stats(
    replicas: list[str], http: aiohttp.ClientSession
) -> None:
    user = Principal("user", "7", "u@example.com")
    async with http.get(f"{replicas[0]}{STATS}", middlewares=(signed_as(user),)) as resp:
        assert resp.status == 403


async def test_the_roll_up_counts_each_ledger_row_once(
    aiohttp_client: Any, service_env: dict[str, Any], facts: None, database_url: str
) -> None:
    # No margin: the roll-up may count up to now. Rounds far apart: the test steps it.
    settings = Settings(
        **service_env, reconcile_interval_s=0, reconcile_margin_s=0, stats_flush_s=300
    )
    app = create_app(settings)
    client = await aiohttp_client(app)
    signed = (signed_as(API_CLIENT),)
    for code, mobile in (("S1", "111"), ("S2", "222"), ("P1", "111")):
        resp = await client.post(
            "/v1.1/coupon/redeem", json=body_of(coupon_in(code, mobile)), middlewares=signed
        )
        assert resp.status == 200

    async def read() -> Any:
        resp = await client.get(f"{STATS}?hours=2&days=2", middlewares=signed)
        assert resp.status == 200
        body = await resp.json()
        return (
            sum(h["redemptions"] for h in body["hourly"]),
            sum(d["redemptions"] for d in body["daily"]),
            body["topPromotions"],
            body["topSeries"],
        )

    expected = (
        3,
        3,
        [{"promotionCode": "TOP", "redemptions": 1}],
        [{"seriesId": 40, "redemptions": 2}],
    )
    # Before the roll-up, from the ledger past its mark; after it, from its tables.
    assert await read() == expected
    await roll_up(app)
    assert await read() == expected
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT sum(redeemed) FROM redemption_hours") == 3
        assert await conn.fetchval("SELECT sum(redeemed) FROM redemption_group_days") == 3
    finally:
        await conn.close()
    resp = await client.post(
        "/v1.1/coupon/redeem", json=body_of(coupon_in("S3", "111")), middlewares=signed
    )
    assert resp.status == 200
    assert await read() == (4, 4, expected[2], [{"seriesId": 40, "redemptions": 3}])
    await roll_up(app)
    assert await read() == (4, 4, expected[2], [{"seriesId": 40, "redemptions": 3}])


async def test_statistics_past_their_retention_are_removed(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    settings = Settings(
        **service_env, reconcile_interval_s=0, retention_interval_s=0.05, stats_retention_days=90
    )
    app = (await aiohttp_client(create_app(settings))).app
    pool = app[PG_POOL]
    ages = "ARRAY[interval '91 days', interval '400 days', interval '2 days']"
    await pool.execute(
        "INSERT INTO redemption_hours (hour, redeemed) "
        f"SELECT date_trunc('hour', now() - age), 1 FROM unnest({ages}) age"
    )
    await pool.execute(
        "INSERT INTO redemption_group_days (day, group_ref, redeemed) "
        f"SELECT (now() - age)::date, 'S:1', 1 FROM unnest({ages}) age"
    )
    await pool.execute(
        "INSERT INTO redemption_outcomes (day, status, redeemed, n) "
        f"SELECT (now() - age)::date, 711, false, 1 FROM unnest({ages}) age"
    )
    tables = ("redemption_hours", "redemption_group_days", "redemption_outcomes")

    async def left() -> list[int]:
        return [await pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables]

    await until(left, "the retention pass", equals=[1, 1, 1])

    def measured() -> str:
        # The pass measures each job's lag once its jobs ran.
        text = app[METRICS].render().decode()
        lags = [f'retention_lag_seconds{{task="{t}"}} 0.0' in text for t in tables]
        return text if all(lags) else ""

    metrics = await until(measured, "the lags measured after the pass")
    for table in tables:
        assert f'retention_removed_total{{task="{table}"}} 2.0' in metrics
