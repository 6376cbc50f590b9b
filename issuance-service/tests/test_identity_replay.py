"""An identity the gateway signed for one issue cannot issue anything else: not with another
body, not a second time, not on another replica."""

from __future__ import annotations

from typing import Any

import orjson
from coupon_core.identity import Principal
from coupon_dev.testing.plugin import signed_as, signed_headers
from issuance_service.app import create_app
from issuance_service.settings import Settings

PRINCIPAL = Principal("api_token", "1", "checkout")
SIGNED = (signed_as(PRINCIPAL),)
ISSUE = "/v2/coupon/issue"


async def test_a_captured_issue_identity_issues_nothing_more(
    service_env: dict[str, Any], aiohttp_client: Any, new_series: Any
) -> None:
    replicas = [await aiohttp_client(create_app(Settings(**service_env))) for _ in range(2)]
    created = await replicas[0].post("/v2/coupon/series", json=new_series(), middlewares=SIGNED)
    assert created.status == 201, await created.text()
    series_id = (await created.json())["id"]

    def body(mobile: str) -> bytes:
        return orjson.dumps({"seriesId": series_id, "customer": {"mobile": mobile}})

    captured = {
        **signed_headers("POST", ISSUE, PRINCIPAL, body=body("9000000001")),
        "Content-Type": "application/json",
    }
    first = await replicas[0].post(ISSUE, data=body("9000000001"), headers=captured)
    assert first.status == 200, await first.text()
    for replica, mobile in (
        (replicas[0], "9000000002"),
        (replicas[1], "9000000003"),
        (replicas[0], "9000000001"),
        (replicas[1], "9000000001"),
    ):
        replayed = await replica.post(ISSUE, data=body(mobile), headers=captured)
        assert replayed.status == 401, mobile
        assert (await replayed.json())["errors"][0]["code"] == 401
    series = await replicas[1].get(f"/v2/coupon/series/{series_id}", middlewares=SIGNED)
    assert (await series.json())["numIssued"] == 1
