"""Series: defaults of SPEC section 4, list, read, partial update."""

from __future__ import annotations

from typing import Any

DEFAULTS = {
    "discountUpto": 0.0,
    "discountOn": "BILL",
    "validDaysFromCreation": -1,
    "maxCreate": -1,
    "maxRedeem": -1,
    "redemptionPerCouponMaxLimit": 1,
    "maxRedemptionsInSeriesPerUser": -1,
    "sameUserMultipleRedeem": False,
    "anyUser": False,
    "maxVouchersPerUser": -1,
    "minDaysBetweenVouchers": -1,
    "couponPrefix": "",
    "couponSuffix": "",
    "randomCodeLength": 10,
    "numIssued": 0,
    "numRedeemed": 0,
}


async def test_defaults_list_get_and_update(api: Any, new_series: Any) -> None:
    created = await api.post("/v2/coupon/series", json=new_series())
    assert created.status == 201
    series = await created.json()
    for field, value in DEFAULTS.items():
        assert series[field] == value, field
    second = await (await api.post("/v2/coupon/series", json=new_series(description="B"))).json()

    listed = await (await api.get("/v2/coupon/series")).json()
    assert [s["id"] for s in listed["series"]] == [series["id"], second["id"]]
    page = await (await api.get(f"/v2/coupon/series?after={series['id']}&limit=1")).json()
    assert [s["id"] for s in page["series"]] == [second["id"]]
    assert (await api.get("/v2/coupon/series?limit=0")).status == 400
    assert await (await api.get(f"/v2/coupon/series/{series['id']}")).json() == series

    changed = await api.put(
        f"/v2/coupon/series/{series['id']}",
        json={"description": "Changed", "randomCodeLength": 6, "couponPrefix": "NEW"},
    )
    assert changed.status == 200, await changed.text()
    updated = await changed.json()
    assert updated == {
        **series,
        "description": "Changed",
        "randomCodeLength": 6,
        "couponPrefix": "NEW",
    }
    issued = await api.post(
        "/v2/coupon/issue", json={"seriesId": series["id"], "customer": {"externalId": "E"}}
    )
    code = (await issued.json())["code"]
    assert code.startswith("NEW")
    assert len(code) == 9

    missing = await api.put("/v2/coupon/series/424242", json={"description": "x"})
    assert missing.status == 404
    assert (await missing.json())["errors"][0]["code"] == 707
    for unreadable in ("%C2%B9", "9" * 30):  # "¹" passes str.isdigit(); 30 digits exceed bigint
        assert (await api.get(f"/v2/coupon/series/{unreadable}")).status == 404


async def test_valid_till_is_the_earlier_of_series_end_and_days_from_issue(
    api: Any, new_series: Any
) -> None:
    series = await (
        await api.post("/v2/coupon/series", json=new_series(validDaysFromCreation=2))
    ).json()
    issued = await (
        await api.post(
            "/v2/coupon/issue", json={"seriesId": series["id"], "customer": {"mobile": "1"}}
        )
    ).json()
    assert issued["validTill"] < series["validTillDate"]


async def test_validity_in_days_beyond_any_date_ends_with_the_series(
    api: Any, new_series: Any
) -> None:
    body = new_series(validDaysFromCreation=2**31 - 1)  # issue time + that overflows a date
    series = await (await api.post("/v2/coupon/series", json=body)).json()
    issued = await api.post(
        "/v2/coupon/issue", json={"seriesId": series["id"], "customer": {"mobile": "1"}}
    )
    assert issued.status == 200
    assert (await issued.json())["validTill"] == series["validTillDate"]
