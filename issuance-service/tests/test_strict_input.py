"""Types are strict (SPEC section 7): a boolean is not a number, a number or a numeric
string is not a date, a string is not a number, a number is not a boolean, a body is JSON.
The seed's own habit is kept: identifiers not given are sent as empty strings (seed 002)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

SEED_CUSTOMER = {"id": "", "mobile": "11223569865", "externalId": "", "email": ""}


async def _series(api: Any, new_series: Any, **overrides: Any) -> int:
    resp = await api.post("/v2/coupon/series", json=new_series(**overrides))
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


async def _code(resp: Any) -> int:
    body = await resp.json()
    assert list(body) == ["errors", "warnings"], body
    code: int = body["errors"][0]["code"]
    return code


async def _counts(database_url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM series"),
            await conn.fetchval("SELECT count(*) FROM customers"),
            await conn.fetchval("SELECT count(*) FROM issued_coupons"),
        )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/coupon/issue", {"seriesId": True, "customer": {"mobile": "1"}}),
        ("/v2/coupon/issue", {"seriesId": "1", "customer": {"mobile": "1"}}),
        ("/v2/coupon/issue", {"seriesId": 1, "customer": {"id": True}}),
        ("/v2/coupon/issue", {"seriesId": 1, "customer": {"id": "1"}}),
        ("/v2/coupon/issue/multiple", {"seriesId": 1, "customer": {"mobile": "1"}, "count": True}),
        ("/v2/coupon/issue/multiple", {"seriesId": 1, "customer": {"mobile": "1"}, "count": "2"}),
    ],
)
async def test_issue_numbers_are_numbers(
    api: Any, new_series: Any, database_url: str, path: str, body: dict[str, Any]
) -> None:
    assert await _series(api, new_series) == 1
    resp = await api.post(path, json=body)
    assert resp.status == 400, await resp.text()
    assert await _code(resp) == 400
    assert await _counts(database_url) == (1, 0, 0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"validTillDate": "12"},
        {"validTillDate": 12},
        {"validTillDate": 4102444800.5},
        {"validTillDate": "4102444800"},
        {"validTillDate": "-1e3"},
        {"validTillDate": True},
        {"maxCreate": "12"},
        {"maxCreate": True},
        {"maxCreate": 12.0},
        {"randomCodeLength": "8"},
        {"discountValue": True},
        {"discountValue": "10"},
        {"anyUser": 0},
        {"anyUser": "true"},
        {"sameUserMultipleRedeem": 1},
        {"description": 5},
    ],
)
async def test_series_fields_take_only_their_own_type(
    api: Any, new_series: Any, database_url: str, overrides: dict[str, Any]
) -> None:
    series_id = await _series(api, new_series)
    created = await api.post("/v2/coupon/series", json=new_series(**overrides))
    assert created.status == 400, await created.text()
    assert await _code(created) == 400
    changed = await api.put(f"/v2/coupon/series/{series_id}", json=overrides)
    assert changed.status == 400, await changed.text()
    assert await _counts(database_url) == (1, 0, 0)
    series = await (await api.get(f"/v2/coupon/series/{series_id}")).json()
    assert series["maxCreate"] == -1
    assert series["anyUser"] is False


async def test_dates_are_iso_8601_text(api: Any, new_series: Any) -> None:
    for text, stored in [
        ("2031-02-03T04:05:06Z", "2031-02-03T04:05:06Z"),
        ("2031-02-03T06:05:06+02:00", "2031-02-03T04:05:06Z"),
        ("2031-02-03", "2031-02-03T00:00:00Z"),
    ]:
        resp = await api.post("/v2/coupon/series", json=new_series(validTillDate=text))
        assert resp.status == 201, (text, await resp.text())
        assert (await resp.json())["validTillDate"] == stored


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_is_415(
    api: Any, new_series: Any, database_url: str, content_type: str
) -> None:
    await _series(api, new_series)
    resp = await api.post(
        "/v2/coupon/issue",
        data=b'{"seriesId": 1, "customer": {"mobile": "1"}}',
        headers={"Content-Type": content_type},
    )
    assert resp.status == 415, await resp.text()
    assert await _code(resp) == 415
    assert await _counts(database_url) == (1, 0, 0)


async def test_seed_shaped_issue_with_empty_identifiers(api: Any, new_series: Any) -> None:
    series_id = await _series(api, new_series)
    resp = await api.post(
        "/v2/coupon/issue", json={"seriesId": series_id, "customer": SEED_CUSTOMER}
    )
    assert resp.status == 200, await resp.text()
    owner = (await resp.json())["customer"]
    assert owner["profiles"][0]["identifiers"] == [{"type": "mobile", "value": "11223569865"}]

    many = await api.post(
        "/v2/coupon/issue/multiple",
        json={"seriesId": series_id, "customer": SEED_CUSTOMER, "count": 2},
    )
    assert many.status == 200, await many.text()
    assert (await many.json())["count"] == 2

    # The seed's shape naming the customer by id, every other identifier empty.
    by_id = {"id": owner["id"], "mobile": "", "externalId": "", "email": ""}
    resp = await api.post("/v2/coupon/issue", json={"seriesId": series_id, "customer": by_id})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["customer"]["id"] == owner["id"]
    listed = await (await api.get(f"/v2/customers/{owner['id']}/coupons")).json()
    assert len(listed["coupons"]) == 4


async def test_every_identifier_empty_is_no_identifier(api: Any, new_series: Any) -> None:
    series_id = await _series(api, new_series)
    empty = {"id": "", "mobile": "", "externalId": "", "email": ""}
    resp = await api.post("/v2/coupon/issue", json={"seriesId": series_id, "customer": empty})
    assert resp.status == 400
    body = await resp.json()
    assert "one of id, mobile, email, externalId is required" in body["errors"][0]["message"]


async def test_seed_shaped_customers_and_lookups_with_empty_identifiers(api: Any) -> None:
    created = await api.post(
        "/v2/customers",
        json={
            "firstName": "Abijith",
            "lastName": "Guptha",
            "mobile": "",
            "externalId": "000003873472",
            "email": "",
        },
    )
    assert created.status == 201, await created.text()
    customer = await created.json()
    identifiers = customer["profiles"][0]["identifiers"]
    assert identifiers == [{"type": "externalId", "value": "000003873472"}]
    found = await api.get("/v2/customers/lookup?mobile=&email=&externalId=000003873472")
    assert found.status == 200, await found.text()
    assert (await found.json())["id"] == customer["id"]
    nothing = await api.get("/v2/customers/lookup?mobile=&email=&externalId=")
    assert nothing.status == 400
