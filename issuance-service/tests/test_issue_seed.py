"""POST /v2/coupon/issue replayed from seed 002, through the gateway."""

from __future__ import annotations

import re
from typing import Any

SEED_REQUEST = {
    "seriesId": 544770,
    "customer": {"id": 555567088, "mobile": "", "externalId": "", "email": ""},
}
SEED_CUSTOMER_PROFILE_KEYS = [
    "firstName",
    "lastName",
    "fields",
    "allFields",
    "identifiers",
    "commChannels",
    "userId",
    "accountId",
    "autoUpdateTime",
    "identifiersAll",
]
SEED_RESPONSE_KEYS = [
    "code",
    "seriesId",
    "description",
    "discountCode",
    "validTill",
    "discountType",
    "discountValue",
    "discountUpto",
    "discountOn",
    "detailedInfo",
    "customer",
    "redemptionCount",
    "id",
    "warnings",
]


async def test_seed_request_answers_as_the_seed(api: Any, new_series: Any) -> None:
    created = await api.post(
        "/v2/customers",
        json={
            "firstName": "Abijith",
            "lastName": "Guptha",
            "mobile": "11223569865",
            "externalId": "000003873472",
        },
    )
    assert created.status == 201, await created.text()
    customer = await created.json()
    series = await api.post("/v2/coupon/series", json=new_series(couponPrefix="IC"))
    assert series.status == 201, await series.text()
    series_json = await series.json()
    series_id = series_json["id"]

    request = {**SEED_REQUEST, "seriesId": series_id}
    request["customer"] = {**SEED_REQUEST["customer"], "id": customer["id"]}  # type: ignore[dict-item]
    resp = await api.post("/v2/coupon/issue", json=request)
    assert resp.status == 200, await resp.text()
    body = await resp.json()

    assert list(body) == SEED_RESPONSE_KEYS
    assert re.fullmatch(r"IC[34679ACDEFGHJKMNPQRTUVWXY]{10}", body["code"])
    assert body["seriesId"] == series_id
    assert body["description"] == "Festival coupon"
    assert body["discountCode"] == "erg123"
    assert body["validTill"] == series_json["validTillDate"]
    assert body["discountType"] == "ABS"
    assert body["discountValue"] == 500.0
    assert isinstance(body["discountValue"], float)
    assert body["discountUpto"] == 0.0
    assert isinstance(body["discountUpto"], float)
    assert body["discountOn"] == "BILL"
    assert body["detailedInfo"] == "Evil coupon"
    assert body["redemptionCount"] == 0
    assert isinstance(body["id"], int)
    assert body["id"] > 0
    assert body["warnings"] == []
    assert list(body["customer"]) == ["id", "profiles"]
    assert body["customer"]["id"] == customer["id"]
    (profile,) = body["customer"]["profiles"]
    assert list(profile) == SEED_CUSTOMER_PROFILE_KEYS
    identifiers = [
        {"type": "mobile", "value": "11223569865"},
        {"type": "externalId", "value": "000003873472"},
    ]
    assert profile["firstName"] == "Abijith"
    assert profile["lastName"] == "Guptha"
    assert profile["fields"] == {}
    assert profile["allFields"] == {}
    assert profile["identifiers"] == identifiers
    assert profile["identifiersAll"] == identifiers
    assert profile["commChannels"] == []
    assert profile["userId"] == customer["id"]
    assert profile["accountId"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", profile["autoUpdateTime"])
    assert body["customer"] == customer

    coupons = await (await api.get(f"/v2/customers/{customer['id']}/coupons")).json()
    assert [c["code"] for c in coupons["coupons"]] == [body["code"]]
    assert coupons["coupons"][0]["redeemed"] is False
    fetched = await (await api.get(f"/v2/coupon/series/{series_id}")).json()
    assert fetched["numIssued"] == 1
