"""Bad text and loose types on the Sylius family (SPEC section 7): a NUL anywhere in a body
or a query parameter, a lone surrogate, a boolean for a number, a body that is not JSON.
Each is a 4xx in the Sylius envelope that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

BASE = "/api/v1/promotions"
GRANT = {"subscriptionTypeId": 1, "subscriptionTypeName": "Monthly", "lengthDays": 30}


def _with(**fields: Any) -> dict[str, Any]:
    return {"code": "BAD", "name": "Bad", "couponBased": True, **fields}


NUL_BODIES = {
    "name": _with(name="A\u0000B"),
    "description": _with(description="A\u0000B"),
    "channels": _with(channels=["WEB", "A\u0000B"]),
    "action configuration": _with(
        actions=[
            {
                "type": "grant_subscription",
                "configuration": {**GRANT, "subscriptionTypeName": "A\u0000B"},
            }
        ]
    ),
    "unknown field": _with(extra={"note": "\u0000"}),
}


async def _codes(api: Any) -> list[str]:
    body = await (await api.get(f"{BASE}/?limit=100")).json()
    return [item["code"] for item in body["_embedded"]["items"]]


async def _refused(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    assert body["code"] == status
    assert body["message"]
    return body


@pytest.mark.parametrize("case", list(NUL_BODIES))
async def test_nul_in_a_promotion_is_400(api: Any, new_promotion: Any, case: str) -> None:
    await new_promotion(api, "KEEP")
    body = await _refused(await api.post(f"{BASE}/", json=NUL_BODIES[case]))
    assert "NUL" in str(body)
    for method in ("PUT", "PATCH"):
        await _refused(await api.request(method, f"{BASE}/KEEP", json=NUL_BODIES[case]))
    assert await _codes(api) == ["KEEP"]
    kept = await (await api.get(f"{BASE}/KEEP")).json()
    assert kept["name"] == "Keep"
    assert kept["channels"] == []


@pytest.mark.parametrize(
    "query",
    ["criteria[search]=%00", "criteria[search]=A%00B", "sorting[name]=asc%00", "page=1%00"],
)
async def test_nul_in_a_query_parameter_is_400(api: Any, new_promotion: Any, query: str) -> None:
    await new_promotion(api, "KEEP")
    body = await _refused(await api.get(f"{BASE}/?{query}"))
    assert "NUL" in str(body)
    await _refused(await api.get(f"{BASE}/KEEP/coupons/?{query}"))


async def test_a_lone_surrogate_is_400(api: Any) -> None:
    for raw in (b'{"code": "S1", "name": "\\ud800"}', b'{"code": "S1", "channels": ["\\udfff"]}'):
        response = await api.post(
            f"{BASE}/", data=raw, headers={"Content-Type": "application/json"}
        )
        await _refused(response)
    assert await _codes(api) == []


@pytest.mark.parametrize(
    "body",
    [
        _with(
            actions=[{"type": "order_percentage_discount", "configuration": {"percentage": True}}]
        ),
        _with(
            actions=[{"type": "order_percentage_discount", "configuration": {"percentage": "0.5"}}]
        ),
        _with(actions=[{"type": "order_fixed_discount", "configuration": {"amount": False}}]),
        _with(rules=[{"type": "nth_order", "configuration": {"nth": True}}]),
        _with(priority=True),
        _with(usageLimit="12"),
        _with(exclusive=1),
        _with(startsAt=1893456000),
        _with(startsAt="1893456000"),
        _with(name=5),
    ],
)
async def test_a_value_of_another_type_is_400(api: Any, body: dict[str, Any]) -> None:
    await _refused(await api.post(f"{BASE}/", json=body))
    assert await _codes(api) == []


async def test_a_percentage_is_a_number(api: Any) -> None:
    action = {"type": "order_percentage_discount", "configuration": {"percentage": 1}}
    created = await api.post(f"{BASE}/", json=_with(actions=[action]))
    assert created.status == 201, await created.text()
    assert (await created.json())["actions"] == [action]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_is_415(
    api: Any, new_promotion: Any, content_type: str
) -> None:
    await new_promotion(api)
    raw = b'{"code": "T1", "name": "Text", "couponBased": true}'
    for method, path in (
        ("POST", f"{BASE}/"),
        ("PATCH", f"{BASE}/HOLIDAY-SALE"),
        ("POST", f"{BASE}/HOLIDAY-SALE/coupons/"),
        ("POST", f"{BASE}/HOLIDAY-SALE/coupons/generate"),
    ):
        response = await api.request(method, path, data=raw, headers={"Content-Type": content_type})
        body = await _refused(response, 415)
        assert "application/json" in body["message"]
    assert await _codes(api) == ["HOLIDAY-SALE"]
    coupons = await (await api.get(f"{BASE}/HOLIDAY-SALE/coupons/")).json()
    assert coupons["total"] == 0
