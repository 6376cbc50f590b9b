"""The ledger search (``GET /v2/coupon/redemptions``) and one redemption in full
(``GET /v2/coupon/redemptions/{redemptionId}``), through the gateway, after real redeems."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from aiohttp import web
from coupon_core.facts import Discount
from redemption_service.db import search
from redemption_service.domain.models import SearchFilters
from redis.asyncio import Redis

from .conftest import coupon_in, publish_customer, publish_group, redeem_body

SEARCH = "/v2/coupon/redemptions"


@pytest.fixture
async def client(through_gateway: Any, app: web.Application, redis: Redis) -> Any:
    await publish_customer(redis, "c-1", mobile="111", email="ada@example.com", external_id="X-1")
    await publish_customer(redis, "c-2", mobile="222")
    await publish_group(redis, "S:30", ["A1", "B1", "M1", "M2", "M3"], series_code="30")
    await publish_group(
        redis, "P:SALE", ["P1"], discount=Discount(type="PERC", value=10), discount_code="SALE"
    )
    return await through_gateway(app)


async def redeem(client: Any, *coupons: dict[str, Any]) -> list[str]:
    resp = await client.post("/v1.1/coupon/redeem", json=redeem_body(*coupons))
    assert resp.status == 200, await resp.text()
    found = (await resp.json())["response"]["coupons"]["coupon"]
    items = found if isinstance(found, list) else [found]
    assert all(i["item_status"]["code"] == 700 for i in items), items
    return [i["redemption_id"] for i in items]


def number(value: str) -> dict[str, Any]:
    return {"transaction": [{"number": value, "amount": "1000"}]}


async def found(client: Any, **query: Any) -> list[str]:
    """The ids the search answers, in its order."""
    resp = await client.get(f"{SEARCH}?{urlencode(query)}")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["warnings"] == []
    return [item["id"] for item in body["redemptions"]]


@pytest.fixture
async def three(client: Any) -> tuple[str, str, str]:
    """A1 by c-1 (T-1), then B1 by c-2 (T-2), then the promotion's P1 by c-1 (T-3)."""
    (a1,) = await redeem(client, coupon_in("A1", "111", **number("T-1")))
    (b1,) = await redeem(client, coupon_in("B1", "222", **number("T-2")))
    (p1,) = await redeem(client, coupon_in("P1", "111", **number("T-3")))
    return a1, b1, p1


async def test_every_filter_finds_what_it_names(client: Any, three: tuple[str, str, str]) -> None:
    a1, b1, p1 = three
    assert await found(client) == [p1, b1, a1]
    assert await found(client, code="A1") == [a1]
    assert await found(client, code="NOPE") == []
    assert await found(client, customerId="c-1") == [p1, a1]
    # The ledger records the customer the redeem resolved: any identifier finds it.
    assert await found(client, mobile="111") == [p1, a1]
    assert await found(client, email="ADA@example.com") == [p1, a1]
    assert await found(client, externalId="X-1") == [p1, a1]
    assert await found(client, mobile="999") == []
    assert await found(client, mobile="111", customerId="c-2") == []
    assert await found(client, transactionNumber="T-2") == [b1]
    assert await found(client, id=b1) == [b1]
    assert await found(client, id="999999") == []
    assert await found(client, promotionCode="SALE") == [p1]
    assert await found(client, seriesId="30") == [b1, a1]
    assert await found(client, seriesId="30", customerId="c-1") == [a1]
    # A form's empty fields are fields not given.
    assert await found(client, code="", customerId="", page="", limit="") == [p1, b1, a1]


async def test_an_item_has_every_field_of_the_ledger(
    client: Any, three: tuple[str, str, str]
) -> None:
    a1, _, p1 = three
    resp = await client.get(f"{SEARCH}?customerId=c-1")
    body = await resp.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "hasMore": False}
    promo, series = body["redemptions"]
    redeemed_at = datetime.fromisoformat(series.pop("redeemedAt"))
    assert abs(redeemed_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert series == {
        "id": a1,
        "code": "A1",
        "group": "S:30",
        "promotionCode": None,
        "seriesId": 30,
        "customerId": "c-1",
        "transactionNumber": "T-1",
        "amount": "1000.00",
        "couponValue": "100.00",
        "reversed": False,
        "reversedAt": None,
        "reversalReason": None,
    }
    assert promo["id"] == p1
    assert (promo["group"], promo["promotionCode"], promo["seriesId"]) == ("P:SALE", "SALE", None)
    assert promo["couponValue"] == "100.00"  # 10 % of 1000


async def test_since_and_until_bound_the_time(
    client: Any, three: tuple[str, str, str], database_url: str
) -> None:
    a1, b1, p1 = three
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE redemptions SET redeemed_at = redeemed_at - interval '2 days' WHERE id = $1",
            int(a1),
        )
    finally:
        await conn.close()
    day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert await found(client, until=day_ago) == [a1]
    assert await found(client, since=day_ago) == [p1, b1]
    assert await found(client, since=day_ago, customerId="c-1") == [p1]
    assert await found(client, since="2000-01-01", until=day_ago, seriesId="30") == [a1]


async def test_pages_are_newest_first_without_gaps_or_repeats(client: Any) -> None:
    # The rows of one request share their redeemed_at: the id orders them.
    first = await redeem(client, coupon_in("M1", "111"), coupon_in("M2", "111"))
    second = await redeem(client, coupon_in("M3", "222"))
    newest_first = sorted(first + second, key=int, reverse=True)
    pages = []
    for page in (1, 2, 3):
        resp = await client.get(f"{SEARCH}?limit=1&page={page}")
        body = await resp.json()
        assert body["pagination"] == {"page": page, "limit": 1, "hasMore": page < 3}
        pages += [item["id"] for item in body["redemptions"]]
    assert pages == newest_first
    assert await found(client, limit="2", page="2") == newest_first[2:]
    assert await found(client, limit="2", page="5") == []


BAD_QUERIES = {
    "limit": [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"limit": "1.5"}],
    "page": [{"page": "0"}, {"page": "-1"}, {"page": "x"}, {"page": "101", "limit": "100"}],
    "id": [{"id": "abc"}, {"id": "9" * 30}, {"id": "-3"}],
    "seriesId": [{"seriesId": "S:1"}, {"seriesId": "0"}],
    "since": [{"since": "yesterday"}, {"since": "12345"}, {"since": "0001-01-01T00:00:00+08:00"}],
    "until": [{"until": "2030-13-01"}, {"since": "2030-01-02", "until": "2030-01-01"}],
    "code": [{"code": "C" * 65}],
    "transactionNumber": [{"transactionNumber": "T" * 256}],
    "promotionCode": [{"promotionCode": "SALE", "seriesId": "30"}],
    "unknown": [{"unknown": "1"}],
}


@pytest.mark.parametrize(
    ("field", "query"),
    [(field, query) for field, queries in BAD_QUERIES.items() for query in queries],
)
async def test_bad_input_is_400_naming_the_field(
    client: Any, field: str, query: dict[str, str]
) -> None:
    resp = await client.get(f"{SEARCH}?{urlencode(query)}")
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["warnings"] == []
    (error,) = body["errors"]
    assert error["code"] == 400
    assert error["message"].startswith(f"{field}: "), error


async def test_one_redemption_in_full_with_its_reversal(client: Any) -> None:
    sport = {"custom_fields": {"field": [{"name": "Sport", "value": "Soccer"}]}}
    (rid,) = await redeem(client, coupon_in("A1", "111", **number("T-9"), **sport))
    resp = await client.get(f"{SEARCH}/{rid}")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["warnings"] == []
    detail = body["redemption"]
    assert (detail["id"], detail["code"], detail["customerId"]) == (rid, "A1", "c-1")
    assert detail["customFields"] == [{"name": "Sport", "value": "Soccer"}]
    assert (detail["reversed"], detail["reversedAt"], detail["reversalReason"]) == (
        False,
        None,
        None,
    )
    reverse = await client.post(f"{SEARCH}/{rid}/reverse", json={"reason": "order cancelled"})
    assert reverse.status == 200, await reverse.text()
    reversed_at = (await reverse.json())["reversal"]["reversedAt"]
    after = (await (await client.get(f"{SEARCH}/{rid}")).json())["redemption"]
    assert (after["reversed"], after["reversedAt"], after["reversalReason"]) == (
        True,
        reversed_at,
        "order cancelled",
    )
    listed = (await (await client.get(f"{SEARCH}?code=A1")).json())["redemptions"]
    assert [(i["id"], i["reversed"], i["reversalReason"]) for i in listed] == [
        (rid, True, "order cancelled")
    ]


@pytest.mark.parametrize("rid", ["999999", "abc", "9" * 30, "%C2%B9", "-1"])
async def test_an_unknown_or_malformed_id_is_404(client: Any, rid: str) -> None:
    resp = await client.get(f"{SEARCH}/{rid}")
    assert resp.status == 404, await resp.text()
    body = await resp.json()
    assert body["errors"][0]["code"] == 404
    assert body["warnings"] == []


# Every kind of search, and whether its index also gives the order (the others find a
# handful of rows: an id, a transaction's coupons).
SHAPES = {
    "no filter": (SearchFilters(), True),
    "since and until": (
        SearchFilters(
            since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 2, 1, tzinfo=UTC)
        ),
        True,
    ),
    "id": (SearchFilters(redemption_id=1), False),
    "code": (SearchFilters(code="A1"), True),
    "customer": (SearchFilters(customer_id="c-1"), True),
    "transaction number": (SearchFilters(transaction_number="T-1"), False),
    "group": (SearchFilters(group="S:30"), True),
    "code and customer since": (
        SearchFilters(code="A1", customer_id="c-1", since=datetime(2026, 1, 1, tzinfo=UTC)),
        True,
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_each_search_reads_an_index_of_every_partition(
    client: Any, database_url: str, shape: str
) -> None:
    filters, ordered = SHAPES[shape]
    sql, args = search.statement(filters, offset=0, limit=21)
    conn = await asyncpg.connect(database_url)
    try:
        # Tables this small are cheaper to read whole: forbid that, to see whether an
        # index serves the search on each partition, as it must at volume.
        await conn.execute("SET enable_seqscan = off")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE q AS {sql}")
        literals = ", ".join(f"'{a.isoformat() if isinstance(a, datetime) else a}'" for a in args)
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE q({literals})"))
        assert "Seq Scan" not in plan, plan
        if ordered:
            # Newest first from the index (an incremental sort puts the rows of one instant
            # in id order): no sort of every row found.
            assert not re.search(r"(^|->)\s*Sort\s+\(", plan, re.MULTILINE), plan
    finally:
        await conn.close()
