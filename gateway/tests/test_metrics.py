"""The gateway's HTTP metrics per endpoint: every proxied request is counted under the route
template it matches (the whitelists' templates), any other path under one fixed label."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from coupon_dev.gateway_fixtures import ADMIN, StartGateway
from coupon_dev.testing.prometheus import parse

COUPON = "/api/v1/promotions/{promotionCode}/coupons/{code}"
REVERSE = "/v2/coupon/redemptions/{redemptionId}/reverse"


async def _requests_by_route(client: TestClient[Any, Any]) -> dict[tuple[str, str, str], float]:
    text = await (await client.get("/metrics")).text()
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in parse(text)
        if s.name == "http_requests_total"
    }


async def test_proxied_requests_are_counted_by_route_template(gateways: StartGateway) -> None:
    client = await gateways()
    sent: list[tuple[str, str, int]] = []
    for method, path, headers, route in (
        ("GET", "/api/v1/promotions/HOLIDAY/coupons/A3BCB", ADMIN, COUPON),
        ("GET", "/api/v1/promotions/HOLIDAY/coupons/A8BAB", ADMIN, COUPON),
        ("POST", "/v2/coupon/redemptions/41/reverse", {}, REVERSE),
        ("GET", "/v2/customers/lookup?mobile=1", ADMIN, "/v2/customers/lookup"),
        ("GET", "/no/such/path", ADMIN, "unmatched"),
        ("GET", "/wp-login.php", {}, "unmatched"),
        ("GET", "/api/v1/promotions/X/coupons/Y/Z", ADMIN, "unmatched"),
    ):
        response = await client.request(method, path, headers=headers)
        sent.append((method, route, response.status))

    counted = await _requests_by_route(client)
    expected: dict[tuple[str, str, str], float] = {}
    for method, route, status in sent:
        key = (method, route, str(status))
        expected[key] = expected.get(key, 0) + 1
    assert {key: counted.get(key) for key in expected} == expected
    assert expected["POST", REVERSE, "401"] == 1  # counted even when refused at the edge
    assert [key for key in counted if key[1] == "/{tail}"] == []


async def test_the_gateways_own_routes_keep_their_templates(gateways: StartGateway) -> None:
    client = await gateways()
    assert (await client.get("/api/v1/api-tokens/1", headers=ADMIN)).status == 200
    assert (await client.get("/healthz")).status == 200
    counted = await _requests_by_route(client)
    assert counted["GET", "/api/v1/api-tokens/{id}", "200"] == 1
    assert counted["GET", "/healthz", "200"] == 1


async def test_made_up_methods_share_one_label(gateways: StartGateway) -> None:
    client = await gateways()
    for method in ("BREW", "PROPFIND", "X-ANY"):
        await client.request(method, "/api/v1/promotions/", headers=ADMIN)
    counted = await _requests_by_route(client)
    methods = {method for method, _route, _status in counted}
    assert "OTHER" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}
