"""Promotions CRUD, index filters and validation (SPEC section 3)."""

from __future__ import annotations

from typing import Any

BASE = "/api/v1/promotions"
FORM = (
    "name",
    "code",
    "description",
    "exclusive",
    "usageLimit",
    "startsAt",
    "endsAt",
    "priority",
    "couponBased",
    "rules",
    "actions",
    "channels",
)
FULL = {
    "code": "SUMMER",
    "name": "Summer sale",
    "description": "Ten off",
    "priority": 3,
    "exclusive": True,
    "usageLimit": 100,
    "couponBased": True,
    "startsAt": "2030-06-01",
    "endsAt": "2030-08-31T23:59:59+02:00",
    "rules": [{"type": "item_total", "configuration": {"amount": 50}}],
    "actions": [{"type": "order_fixed_discount", "configuration": {"amount": 10}}],
    "channels": ["WEB", "APP"],
}


def failed(**errors: list[str]) -> dict[str, Any]:
    children: dict[str, Any] = {name: {} for name in FORM}
    children.update({name: {"errors": msgs} for name, msgs in errors.items()})
    return {"code": 400, "message": "Validation Failed", "errors": {"children": children}}


async def test_crud(api: Any) -> None:
    created = await api.post(f"{BASE}/", json=FULL)
    assert created.status == 201
    body = await created.json()
    assert isinstance(body["id"], int)
    assert body["used"] == 0
    assert body["startsAt"] == "2030-06-01T00:00:00+0200"
    assert body["endsAt"] == "2030-08-31T23:59:59+0200"
    for key in ("code", "name", "description", "priority", "exclusive", "usageLimit"):
        assert body[key] == FULL[key]
    assert body["rules"] == FULL["rules"]
    assert body["actions"] == FULL["actions"]
    assert body["channels"] == ["WEB", "APP"]
    assert body["_links"] == {
        "self": {"href": "/api/v1/promotions/SUMMER"},
        "coupons": {"href": "/api/v1/promotions/SUMMER/coupons/"},
    }
    assert await (await api.get(f"{BASE}/SUMMER")).json() == body

    patch = await api.patch(f"{BASE}/SUMMER", json={"priority": 7, "description": None})
    assert patch.status == 204
    patched = await (await api.get(f"{BASE}/SUMMER")).json()
    assert patched["priority"] == 7
    assert "description" not in patched
    assert patched["usageLimit"] == 100

    put = await api.put(f"{BASE}/SUMMER", json={"name": "Renamed"})
    assert put.status == 204
    replaced = await (await api.get(f"{BASE}/SUMMER")).json()
    assert replaced["name"] == "Renamed"
    assert replaced["priority"] == 0
    assert replaced["couponBased"] is False
    assert replaced["rules"] == []
    assert "usageLimit" not in replaced
    assert replaced["_links"] == {"self": {"href": "/api/v1/promotions/SUMMER"}}

    assert (await api.delete(f"{BASE}/SUMMER")).status == 204
    gone = await api.get(f"{BASE}/SUMMER")
    assert gone.status == 404
    assert await gone.json() == {
        "code": 404,
        "message": 'Promotion with code "SUMMER" has not been found.',
    }
    assert (await api.delete(f"{BASE}/SUMMER")).status == 404


async def test_index(api: Any) -> None:
    for code, name, priority, coupon_based in (
        ("B-PROMO", "Beta", 2, True),
        ("A-PROMO", "Gamma", 1, False),
        ("C-PROMO", "Alpha winter", 3, True),
    ):
        body = {"code": code, "name": name, "priority": priority, "couponBased": coupon_based}
        assert (await api.post(BASE, json=body)).status == 201

    async def codes(query: str) -> list[str]:
        response = await api.get(f"{BASE}/?{query}")
        assert response.status == 200
        return [p["code"] for p in (await response.json())["_embedded"]["items"]]

    assert await codes("") == ["B-PROMO", "A-PROMO", "C-PROMO"]
    assert await codes("sorting%5Bcode%5D=asc") == ["A-PROMO", "B-PROMO", "C-PROMO"]
    assert await codes("sorting%5Bname%5D=desc") == ["A-PROMO", "B-PROMO", "C-PROMO"]
    assert await codes("sorting%5Bpriority%5D=desc") == ["C-PROMO", "B-PROMO", "A-PROMO"]
    assert await codes("criteria%5Bsearch%5D=winter") == ["C-PROMO"]
    assert await codes("criteria%5Bsearch%5D=a-pro") == ["A-PROMO"]
    assert await codes("criteria%5BcouponBased%5D=true") == ["B-PROMO", "C-PROMO"]
    assert await codes("criteria%5BcouponBased%5D=false") == ["A-PROMO"]
    page = await (await api.get(f"{BASE}/?limit=2&sorting%5Bcode%5D=asc")).json()
    assert page["total"] == 3
    assert page["pages"] == 2
    assert page["_links"]["next"] == {
        "href": "/api/v1/promotions/?sorting%5Bcode%5D=asc&page=2&limit=2"
    }


async def test_validation(api: Any) -> None:
    empty = await api.post(BASE, json={})
    assert empty.status == 400
    assert await empty.json() == failed(
        code=["Please enter promotion code."], name=["Please enter promotion name."]
    )
    no_name = await api.post(BASE, json={"code": "X1"})
    assert await no_name.json() == failed(name=["Please enter promotion name."])
    assert (await api.post(BASE, json={"code": "X1", "name": "One"})).status == 201
    duplicate = await api.post(BASE, json={"code": "X1", "name": "Again"})
    assert duplicate.status == 400
    assert await duplicate.json() == failed(code=["The promotion with given code already exists."])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"priority": "high"}, "priority"),
        ({"exclusive": "yes"}, "exclusive"),
        ({"usageLimit": -1}, "usageLimit"),
        ({"startsAt": "2030-02-30"}, "startsAt"),
        ({"startsAt": "0001-01-01T01:00:00+08:01"}, "startsAt"),  # before year 1 in UTC
        ({"endsAt": "9999-12-31T23:00:00-08:00"}, "endsAt"),  # after year 9999 in UTC
        ({"startsAt": "2030-02-01", "endsAt": "2030-01-01"}, "endsAt"),
        ({"actions": [{"type": "free_lunch", "configuration": {}}]}, "actions"),
        (
            {
                "actions": [
                    {"type": "order_percentage_discount", "configuration": {"percentage": 2}}
                ]
            },
            "actions",
        ),
        ({"rules": [{"type": "item_total", "configuration": {"amount": -1}}]}, "rules"),
        ({"channels": "WEB"}, "channels"),
        ({"name": "N" * 300}, "name"),
        ({"code": "bad code"}, "code"),
    ]
    for extra, field in cases:
        body = {"code": "X2", "name": "Two", **extra}
        response = await api.post(BASE, json=body)
        assert response.status == 400, extra
        children = (await response.json())["errors"]["children"]
        assert list(children) == list(FORM)
        assert children[field]["errors"], extra
    listed = await (await api.get(BASE)).json()
    assert [p["code"] for p in listed["_embedded"]["items"]] == ["X1"]
    bad_patch = await api.patch(f"{BASE}/X1", json={"priority": 2**40})
    assert bad_patch.status == 400


async def test_malformed_bodies_write_nothing(api: Any) -> None:
    assert (
        await api.post(BASE, json={"code": "M1", "name": "M", "couponBased": True})
    ).status == 201
    headers = {"Content-Type": "application/json"}
    for method, path in (
        ("POST", f"{BASE}/"),
        ("PUT", f"{BASE}/M1"),
        ("PATCH", f"{BASE}/M1"),
        ("POST", f"{BASE}/M1/coupons/generate"),
    ):
        for raw in (b"{oops", b"[]", b"null", b'{"name": "\xff"}'):
            response = await api.request(method, path, data=raw, headers=headers)
            assert response.status == 400, (method, path, raw)
            body = await response.json()
            assert body["code"] == 400
    promo = await (await api.get(f"{BASE}/M1")).json()
    assert promo["name"] == "M"
    coupons = await (await api.get(f"{BASE}/M1/coupons/")).json()
    assert coupons["total"] == 0
