"""Every example of the Sylius promotion coupons seed, replayed through the gateway."""

from __future__ import annotations

import re
from typing import Any

from coupon_core import code_registry

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$")
BASE = "/api/v1/promotions/HOLIDAY-SALE/coupons"

A3BCB_CREATED = {
    "id": 5,
    "code": "A3BCB",
    "used": 0,
    "createdAt": "2017-03-06T13:14:19+0100",
    "updatedAt": "2017-03-06T13:14:19+0100",
    "_links": {
        "self": {"href": "/api/v1/promotions/HOLIDAY-SALE/coupons/A3BCB"},
        "promotion": {"href": "/api/v1/promotions/HOLIDAY-SALE"},
    },
}
A8BAB_CREATED = {
    "id": 6,
    "code": "A8BAB",
    "usageLimit": 10,
    "used": 0,
    "expiresAt": "2020-01-01T00:00:00+0100",
    "createdAt": "2017-03-06T13:15:27+0100",
    "updatedAt": "2017-03-06T13:15:27+0100",
    "perCustomerUsageLimit": 1,
    "_links": {
        "self": {"href": "/api/v1/promotions/HOLIDAY-SALE/coupons/A8BAB"},
        "promotion": {"href": "/api/v1/promotions/HOLIDAY-SALE"},
    },
}
MISSING_CODE = {
    "code": 400,
    "message": "Validation Failed",
    "errors": {
        "children": {
            "usageLimit": {},
            "expiresAt": {},
            "perCustomerUsageLimit": {},
            "code": {"errors": ["Please enter coupon code."]},
        }
    },
}
SELF = "/api/v1/promotions/HOLIDAY-SALE/coupons/?sorting%5Bcode%5D=desc&page=1&limit=4"
LIST: dict[str, Any] = {
    "page": 1,
    "limit": 4,
    "pages": 1,
    "total": 2,
    "_links": {"self": {"href": SELF}, "first": {"href": SELF}, "last": {"href": SELF}},
    "_embedded": {
        "items": [
            {
                "id": 5,
                "code": "A3BCB",
                "used": 0,
                "_links": {"self": {"href": "/api/v1/promotions/HOLIDAY-SALE/coupons/A3BCB"}},
            },
            {
                "id": 6,
                "code": "A8BAB",
                "usageLimit": 10,
                "used": 0,
                "expiresAt": "2020-01-01T00:00:00+0100",
                "_links": {"self": {"href": "/api/v1/promotions/HOLIDAY-SALE/coupons/A8BAB"}},
            },
        ]
    },
}


def same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Field by field, in the seed's order; ids and timestamps only by type and format."""
    assert list(actual) == list(expected)
    for key, value in expected.items():
        if key == "id":
            assert isinstance(actual[key], int)
        elif key in ("createdAt", "updatedAt"):
            assert DATE.match(actual[key]), actual[key]
        else:
            assert actual[key] == value, key


async def test_seed_examples(api: Any, redis: Any, new_promotion: Any) -> None:
    await new_promotion(api)

    # Creating a Promotion Coupon
    created = await api.post(f"{BASE}/", json={"code": "A3BCB"})
    assert created.status == 201
    first = await created.json()
    same(first, A3BCB_CREATED)
    assert first["createdAt"] == first["updatedAt"]
    assert await code_registry.owner_of(redis, "A3BCB") == "P:HOLIDAY-SALE"

    # Without code (no body at all, as the seed's curl sends)
    missing = await api.post(f"{BASE}/", headers={"Content-Type": "application/json"})
    assert missing.status == 400
    assert await missing.json() == MISSING_CODE

    # With the optional fields
    created = await api.post(
        f"{BASE}/",
        json={
            "code": "A8BAB",
            "expiresAt": "2020-01-01",
            "usageLimit": 10,
            "perCustomerUsageLimit": 1,
        },
    )
    assert created.status == 201
    second = await created.json()
    same(second, A8BAB_CREATED)
    assert second["id"] > first["id"]

    # Getting a Single Promotion Coupon
    single = await api.get(f"{BASE}/A3BCB", headers={"Accept": "application/json"})
    assert single.status == 200
    assert await single.json() == first

    # Collection: the seed's links (its items appear in id order, whatever its sorting says)
    listed = await api.get(f"{BASE}/?limit=4")
    assert listed.status == 200
    body = await listed.json()
    same(body, {**LIST, "_links": body["_links"], "_embedded": body["_embedded"]})
    for got, want in zip(body["_embedded"]["items"], LIST["_embedded"]["items"], strict=True):
        same(got, want)
    sorted_list = await (await api.get(f"{BASE}/?sorting%5Bcode%5D=desc&page=1&limit=4")).json()
    assert sorted_list["_links"] == LIST["_links"]
    assert [i["code"] for i in sorted_list["_embedded"]["items"]] == ["A8BAB", "A3BCB"]
    # "paginate" is the seed's name for "limit"; the default is 10.
    paginated = await (await api.get(f"{BASE}?paginate=4")).json()
    assert paginated["limit"] == 4
    assert (await (await api.get(BASE)).json())["limit"] == 10

    # Updating Promotion Coupon (PUT)
    put = await api.put(
        f"{BASE}/A3BCB",
        json={"expiresAt": "2020-01-01", "usageLimit": 30, "perCustomerUsageLimit": 2},
    )
    assert put.status == 204
    assert await put.read() == b""
    after = await (await api.get(f"{BASE}/A3BCB")).json()
    assert after["usageLimit"] == 30
    assert after["perCustomerUsageLimit"] == 2
    assert after["expiresAt"] == "2020-01-01T00:00:00+0100"

    # PATCH changes only what it names
    patch = await api.patch(f"{BASE}/A3BCB", json={"usageLimit": 30})
    assert patch.status == 204
    patched = await (await api.get(f"{BASE}/A3BCB")).json()
    assert patched["usageLimit"] == 30
    assert patched["perCustomerUsageLimit"] == 2
    assert patched["expiresAt"] == "2020-01-01T00:00:00+0100"
    patch = await api.patch(f"{BASE}/A3BCB", json={"perCustomerUsageLimit": None})
    assert patch.status == 204
    assert "perCustomerUsageLimit" not in await (await api.get(f"{BASE}/A3BCB")).json()

    # PUT is a full update: what it leaves out becomes null, and is omitted
    put = await api.put(f"{BASE}/A3BCB", json={"usageLimit": 5})
    assert put.status == 204
    replaced = await (await api.get(f"{BASE}/A3BCB")).json()
    assert replaced["usageLimit"] == 5
    assert "expiresAt" not in replaced
    assert "perCustomerUsageLimit" not in replaced

    # Deleting a Promotion coupon
    deleted = await api.delete(f"{BASE}/A3BCB", headers={"Accept": "application/json"})
    assert deleted.status == 204
    gone = await api.get(f"{BASE}/A3BCB")
    assert gone.status == 404
    assert await gone.json() == {
        "code": 404,
        "message": 'Promotion coupon with code "A3BCB" has not been found.',
    }
    assert await code_registry.owner_of(redis, "A3BCB") is None


async def test_post_without_trailing_slash_and_utc_offset(
    service_env: dict[str, Any], through_gateway: Any, new_promotion: Any
) -> None:
    from promotion_service.app import create_app
    from promotion_service.settings import Settings

    api = await through_gateway(create_app(Settings(**service_env)))
    await new_promotion(api)
    created = await api.post(BASE, json={"code": "NOSLASH", "expiresAt": "2020-01-01"})
    assert created.status == 201
    body = await created.json()
    assert body["expiresAt"] == "2020-01-01T00:00:00+0000"
    assert body["createdAt"].endswith("+0000")
    iso = await api.post(BASE, json={"code": "ISO1", "expiresAt": "2020-06-01T12:30:00+02:00"})
    assert (await iso.json())["expiresAt"] == "2020-06-01T10:30:00+0000"
