"""Every way a coupon request can be wrong gets a Sylius 4xx body, and writes nothing."""

from __future__ import annotations

from typing import Any

from coupon_core import code_registry

BASE = "/api/v1/promotions/HOLIDAY-SALE/coupons"
FORM = ("usageLimit", "expiresAt", "perCustomerUsageLimit", "code")


def failed(**errors: list[str]) -> dict[str, Any]:
    children: dict[str, Any] = {name: {} for name in FORM}
    children.update({name: {"errors": msgs} for name, msgs in errors.items()})
    return {"code": 400, "message": "Validation Failed", "errors": {"children": children}}


async def coupon_codes(api: Any) -> list[str]:
    body = await (await api.get(f"{BASE}/?limit=100")).json()
    return [item["code"] for item in body["_embedded"]["items"]]


async def test_duplicate_codes(api: Any, redis: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    await new_promotion(api, "OTHER")
    assert (await api.post(f"{BASE}/", json={"code": "TAKEN"})).status == 201
    taken = failed(code=["This coupon already exists."])

    again = await api.post(f"{BASE}/", json={"code": "TAKEN"})
    assert again.status == 400
    assert await again.json() == taken
    elsewhere = await api.post("/api/v1/promotions/OTHER/coupons/", json={"code": "TAKEN"})
    assert elsewhere.status == 400
    assert await elsewhere.json() == taken
    # The first owner keeps the code.
    assert await code_registry.owner_of(redis, "TAKEN") == "P:HOLIDAY-SALE"
    assert (await api.get(f"{BASE}/TAKEN")).status == 200

    # A code a series of the issuance service already owns.
    assert await code_registry.reserve(redis, "SERIES1", "S:1")
    series = await api.post(f"{BASE}/", json={"code": "SERIES1"})
    assert series.status == 400
    assert await series.json() == taken
    assert await code_registry.owner_of(redis, "SERIES1") == "S:1"
    assert await coupon_codes(api) == ["TAKEN"]


async def test_unknown_promotion_and_coupon(api: Any, new_promotion: Any) -> None:
    message = {"code": 404, "message": 'Promotion with code "NOPE" has not been found.'}
    for method, path in (
        ("GET", "/api/v1/promotions/NOPE/coupons/"),
        ("POST", "/api/v1/promotions/NOPE/coupons/"),
        ("GET", "/api/v1/promotions/NOPE/coupons/X"),
        ("PUT", "/api/v1/promotions/NOPE/coupons/X"),
        ("PATCH", "/api/v1/promotions/NOPE/coupons/X"),
        ("DELETE", "/api/v1/promotions/NOPE/coupons/X"),
        ("GET", "/api/v1/promotions/NOPE/coupons/export.csv"),
    ):
        response = await api.request(method, path, json={"code": "X"})
        assert response.status == 404, (method, path)
        assert await response.json() == message
    await new_promotion(api)
    missing = {"code": 404, "message": 'Promotion coupon with code "X" has not been found.'}
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = await api.request(method, f"{BASE}/X", json={"usageLimit": 1})
        assert response.status == 404
        assert await response.json() == missing


async def test_bad_values(api: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    cases: list[tuple[dict[str, Any], dict[str, list[str]]]] = [
        ({"code": "B1", "expiresAt": "2020-13-45"}, {"expiresAt": ["This value is not valid."]}),
        ({"code": "B1", "expiresAt": "next tuesday"}, {"expiresAt": ["This value is not valid."]}),
        ({"code": "B1", "expiresAt": 20200101}, {"expiresAt": ["This value is not valid."]}),
        (
            {"code": "B1", "usageLimit": -1},
            {"usageLimit": ["This value should be greater than or equal to 1."]},
        ),
        (
            {"code": "B1", "perCustomerUsageLimit": -5},
            {"perCustomerUsageLimit": ["This value should be greater than or equal to 1."]},
        ),
        (
            {"code": "B1", "usageLimit": 2**31},
            {"usageLimit": ["This value should be less than or equal to 2147483647."]},
        ),
        ({"code": "B1", "usageLimit": 10**30}, {"usageLimit": ["This value is not valid."]}),
        ({"code": "B1", "usageLimit": "ten"}, {"usageLimit": ["This value is not valid."]}),
        ({"code": "B1", "usageLimit": True}, {"usageLimit": ["This value is not valid."]}),
        ({"code": ""}, {"code": ["Please enter coupon code."]}),
        ({"code": 42}, {"code": ["This value is not valid."]}),
        (
            {"code": "has space"},
            {
                "code": [
                    "Coupon code can only be comprised of letters, numbers, dashes and underscores."
                ]
            },
        ),
        ({"code": "X" * 10_000}, {"code": ["Coupon code must not be longer than 64 characters."]}),
    ]
    for body, errors in cases:
        response = await api.post(f"{BASE}/", json=body)
        assert response.status == 400, body
        assert await response.json() == failed(**errors), body
    assert (await api.post(f"{BASE}/", json={"code": "B1"})).status == 201
    for method in ("PUT", "PATCH"):
        response = await api.request(method, f"{BASE}/B1", json={"usageLimit": 0})
        assert response.status == 400
        assert await response.json() == failed(
            usageLimit=["This value should be greater than or equal to 1."]
        )
    assert await coupon_codes(api) == ["B1"]


async def test_malformed_bodies(api: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    headers = {"Content-Type": "application/json"}
    for raw in (b"{not json", b"[1, 2]", b'"code"', b"\xff\xfe"):
        response = await api.post(f"{BASE}/", data=raw, headers=headers)
        assert response.status == 400, raw
        body = await response.json()
        assert body["code"] == 400
        assert body["message"]
    oversized = await api.post(f"{BASE}/", data=b'{"code": "' + b"A" * 1_100_000 + b'"}')
    assert oversized.status == 413
    assert (await oversized.json())["code"] == 413
    assert await coupon_codes(api) == []


async def test_coupon_needs_coupon_based_promotion(api: Any, new_promotion: Any) -> None:
    await new_promotion(api, "PLAIN", couponBased=False)
    response = await api.post("/api/v1/promotions/PLAIN/coupons/", json={"code": "P1"})
    assert response.status == 400
    assert await response.json() == {
        "code": 400,
        "message": 'Promotion "PLAIN" is not coupon based: it takes no coupons.',
    }


async def test_pages(api: Any, new_promotion: Any) -> None:
    await new_promotion(api)
    for i in range(5):
        assert (await api.post(f"{BASE}/", json={"code": f"PG{i}"})).status == 201
    page2 = await (await api.get(f"{BASE}/?page=2&limit=2")).json()
    assert [i["code"] for i in page2["_embedded"]["items"]] == ["PG2", "PG3"]
    assert page2["pages"] == 3
    assert page2["_links"] == {
        "self": {"href": f"{BASE}/?page=2&limit=2"},
        "first": {"href": f"{BASE}/?page=1&limit=2"},
        "last": {"href": f"{BASE}/?page=3&limit=2"},
        "next": {"href": f"{BASE}/?page=3&limit=2"},
        "previous": {"href": f"{BASE}/?page=1&limit=2"},
    }
    out = await api.get(f"{BASE}/?page=4&limit=2")
    assert out.status == 404
    assert await out.json() == {
        "code": 404,
        "message": 'Page "4" does not exist. The currentPage must be inferior to "3"',
    }
    assert (await (await api.get(f"{BASE}/?limit=1000")).json())["limit"] == 100
    for query in ("page=0", "page=abc", "limit=-1", "sorting%5Bnope%5D=asc"):
        bad = await api.get(f"{BASE}/?{query}")
        assert bad.status == 400, query
        assert (await bad.json())["message"] == "Validation Failed"
