"""Issue errors in the Capillary v2 envelope, and each way of naming the customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg


async def _series(api: Any, new_series: Any, **overrides: Any) -> int:
    resp = await api.post("/v2/coupon/series", json=new_series(**overrides))
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


async def _error(resp: Any, status: int, code: int) -> str:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert list(body) == ["errors", "warnings"]
    assert body["warnings"] == []
    ((error),) = body["errors"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    return str(error["message"])


async def test_unknown_series_is_707(api: Any) -> None:
    resp = await api.post("/v2/coupon/issue", json={"seriesId": 99999, "customer": {"mobile": "1"}})
    await _error(resp, 404, 707)
    # Nobody was registered on the fly for an issue that could not happen.
    await _error(await api.get("/v2/customers/lookup?mobile=1"), 404, 701)
    assert (await api.get("/v2/coupon/series/99999")).status == 404
    assert (await api.get("/v2/coupon/series/abc")).status == 404


async def test_expired_series_is_712(api: Any, new_series: Any) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    series_id = await _series(api, new_series, validTillDate=past)
    resp = await api.post(
        "/v2/coupon/issue", json={"seriesId": series_id, "customer": {"mobile": "123"}}
    )
    await _error(resp, 400, 712)


async def test_limits_are_722_and_say_which(api: Any, new_series: Any) -> None:
    cases = [
        ({"maxCreate": 1}, "maxCreate", [{"mobile": "100"}, {"mobile": "101"}]),
        ({"maxVouchersPerUser": 1}, "maxVouchersPerUser", [{"mobile": "200"}, {"mobile": "200"}]),
        (
            {"minDaysBetweenVouchers": 2},
            "minDaysBetweenVouchers",
            [{"mobile": "300"}, {"mobile": "300"}],
        ),
    ]
    for settings, limit, (first, second) in cases:
        series_id = await _series(api, new_series, **settings)
        ok = await api.post("/v2/coupon/issue", json={"seriesId": series_id, "customer": first})
        assert ok.status == 200, await ok.text()
        resp = await api.post("/v2/coupon/issue", json={"seriesId": series_id, "customer": second})
        assert limit in await _error(resp, 400, 722)


async def test_multiple_respects_limits_all_or_nothing(api: Any, new_series: Any) -> None:
    series_id = await _series(api, new_series, maxCreate=5, couponSuffix="-X")
    body = {"seriesId": series_id, "customer": {"email": "a@b.c"}, "count": 3}
    first = await api.post("/v2/coupon/issue/multiple", json=body)
    assert first.status == 200, await first.text()
    issued = await first.json()
    assert issued["count"] == 3
    assert len(set(issued["codes"])) == 3
    assert all(code.endswith("-X") for code in issued["codes"])
    await _error(await api.post("/v2/coupon/issue/multiple", json=body), 400, 722)
    series = await (await api.get(f"/v2/coupon/series/{series_id}")).json()
    assert series["numIssued"] == 3
    for count in (0, 501):
        resp = await api.post("/v2/coupon/issue/multiple", json={**body, "count": count})
        await _error(resp, 400, 400)


async def test_each_identifier_resolves_the_customer(api: Any, new_series: Any) -> None:
    series_id = await _series(api, new_series)
    created = await api.post(
        "/v2/customers",
        json={
            "firstName": "Ann",
            "mobile": " 555 ",
            "email": "Ann@Example.COM",
            "externalId": "X1",
        },
    )
    assert created.status == 201, await created.text()
    customer = await created.json()
    refs = [
        {"id": customer["id"]},
        {"mobile": "555", "email": ""},
        {"email": "ann@example.com"},
        {"externalId": "X1", "mobile": ""},
    ]
    for ref in refs:
        resp = await api.post("/v2/coupon/issue", json={"seriesId": series_id, "customer": ref})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["customer"]["id"] == customer["id"]
    listed = await (await api.get(f"/v2/customers/{customer['id']}/coupons")).json()
    assert len(listed["coupons"]) == 4

    for query in ("mobile=555", "email=ANN%40example.com", "externalId=X1"):
        found = await api.get(f"/v2/customers/lookup?{query}")
        assert found.status == 200
        assert (await found.json())["id"] == customer["id"]
    await _error(await api.get("/v2/customers/lookup?mobile=nobody"), 404, 701)
    await _error(await api.get("/v2/customers/lookup"), 400, 400)


async def test_unknown_customer_registered_on_the_fly_unless_by_id(
    api: Any, new_series: Any
) -> None:
    series_id = await _series(api, new_series)
    for ref in ({"mobile": "777"}, {"email": "New@Shop.io"}, {"externalId": "EXT-9"}):
        resp = await api.post("/v2/coupon/issue", json={"seriesId": series_id, "customer": ref})
        assert resp.status == 200, await resp.text()
        owner = (await resp.json())["customer"]
        fetched = await api.get(f"/v2/customers/{owner['id']}")
        assert (await fetched.json()) == owner
        (identifier,) = owner["profiles"][0]["identifiers"]
        assert identifier["type"] == next(iter(ref))
    resp = await api.post(
        "/v2/coupon/issue", json={"seriesId": series_id, "customer": {"id": 424242}}
    )
    await _error(resp, 404, 701)
    await _error(await api.get("/v2/customers/424242"), 404, 701)
    empty = {"id": None, "mobile": "", "email": " ", "externalId": ""}
    resp = await api.post("/v2/coupon/issue", json={"seriesId": series_id, "customer": empty})
    await _error(resp, 400, 400)


async def test_customer_identifiers_are_unique(api: Any) -> None:
    assert (await api.post("/v2/customers", json={"email": "x@y.z"})).status == 201
    await _error(await api.post("/v2/customers", json={"email": " X@Y.Z"}), 409, 409)
    await _error(await api.post("/v2/customers", json={"firstName": "No ids"}), 400, 400)


async def test_malformed_input_is_400_and_writes_nothing(
    api: Any, new_series: Any, database_url: str
) -> None:
    series_id = await _series(api, new_series)
    bad_issues: list[Any] = [
        b"{not json",
        b"[]",
        {"seriesId": "abc", "customer": {"mobile": "900"}},
        {"seriesId": series_id, "customer": {"mobile": 900}},
        {"seriesId": series_id},
        {"seriesId": 2**40, "customer": {"mobile": "900"}},
        {"seriesId": series_id, "customer": {"mobile": "9" * 101}},
        {"seriesId": series_id, "customer": {"mobile": "900"}, "extra": 1},
        {"seriesId": series_id, "customer": {"mobile": "9\u0000"}},
    ]
    for body in bad_issues:
        kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
        resp = await api.post("/v2/coupon/issue", **kwargs)
        await _error(resp, 400, 400)
    bad_series = [
        new_series(discountType="FREE"),
        new_series(discountValue=-1),
        new_series(discountType="PERC", discountValue=150),
        new_series(maxCreate=-2),
        new_series(maxCreate=2**31),
        new_series(validTillDate="tomorrow"),
        new_series(validTillDate="0001-01-01T00:00:00+08:00"),  # before year 1 in UTC
        new_series(validTillDate="0001-01-01T00:00:00Z"),  # no Unix time for its facts
        new_series(validTillDate="1969-12-31T23:59:59Z"),
        new_series(validTillDate="9999-12-31T23:59:59Z"),
        new_series(couponPrefix="no spaces"),
        {"description": "missing fields"},
        new_series(description="nul \u0000 inside"),
    ]
    for body in bad_series:
        await _error(await api.post("/v2/coupon/series", json=body), 400, 400)
    resp = await api.put(f"/v2/coupon/series/{series_id}", json={"discountOn": "SHOP"})
    await _error(resp, 400, 400)
    await _error(await api.get("/v2/customers/lookup?mobile=%00"), 400, 400)
    await _error(await api.post("/v2/customers", json={"email": "a\u0000@b"}), 400, 400)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM customers") == 0
        assert await conn.fetchval("SELECT count(*) FROM series") == 1
        assert await conn.fetchval("SELECT count(*) FROM issued_coupons") == 0
        assert await conn.fetchval("SELECT discount_on FROM series") == "BILL"
    finally:
        await conn.close()
