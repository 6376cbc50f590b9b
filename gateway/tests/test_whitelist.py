"""Whitelists match route templates (``{param}`` = one segment), methods and ``*``."""

from __future__ import annotations

import pytest
from coupon_core.routes import ISSUANCE, PLATFORM_ROUTES, Endpoint, RouteTable, TemplateError
from coupon_dev.gateway_fixtures import ADMIN, StartGateway, bearer, create_token
from gateway.domain.whitelist import WhitelistError, allows, normalize_entries

ROUTES = RouteTable()


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/api/v1/promotions", "/api/v1/promotions"),
        ("/api/v1/promotions/", "/api/v1/promotions"),
        ("/api/v1/promotions/SUMMER", "/api/v1/promotions/{code}"),
        ("/api/v1/promotions/SUMMER/coupons/", "/api/v1/promotions/{promotionCode}/coupons"),
        (
            "/api/v1/promotions/SUMMER/coupons/export.csv",
            "/api/v1/promotions/{promotionCode}/coupons/export.csv",
        ),
        (
            "/api/v1/promotions/SUMMER/coupons/ABC",
            "/api/v1/promotions/{promotionCode}/coupons/{code}",
        ),
        ("/v2/customers/lookup", "/v2/customers/lookup"),
        ("/v2/customers/42", "/v2/customers/{id}"),
        ("/v2/customers/42/coupons", "/v2/customers/{id}/coupons"),
        ("/v2/coupon/redemptions/r-1/reverse", "/v2/coupon/redemptions/{redemptionId}/reverse"),
        ("/v2/coupon/redemptions/a/b/reverse", None),
        ("/v2/coupon/redemptions//reverse", None),
        ("/v2/unknown", None),
    ],
)
def test_paths_match_their_template(path: str, template: str | None) -> None:
    assert ROUTES.template_for(path) == template


def test_every_template_in_the_table_is_well_formed_and_unique() -> None:
    entries = normalize_entries([f"{m} {t}" for m, t in PLATFORM_ROUTES], ROUTES)
    assert len(entries) == len(PLATFORM_ROUTES)


def test_one_spelling_per_template() -> None:
    with pytest.raises(TemplateError):
        RouteTable(
            (
                Endpoint("GET", "/v2/customers/{id}", ISSUANCE),
                Endpoint("PUT", "/v2/customers/{customerId}", ISSUANCE),
            )
        )


def test_entries_are_normalized_to_the_table_spelling() -> None:
    assert normalize_entries(
        ["post  /v2/coupon/redemptions/{id}/reverse", "*", "GET /api/v1/promotions/", "*"], ROUTES
    ) == ["POST /v2/coupon/redemptions/{redemptionId}/reverse", "*", "GET /api/v1/promotions"]


@pytest.mark.parametrize(
    "entry",
    [
        "FETCH /v2/coupon/issue",
        "/v2/coupon/issue",
        "POST",
        "POST v2/coupon/issue",
        "POST /v2/coupon/{bad name}",
        "POST /v2/coupon/issue?x=1",
        "POST /v2//issue",
        "GET /v2/coupon/issue",
        "POST /v2/nothing/here",
        "**",
    ],
)
def test_bad_entries_are_refused(entry: str) -> None:
    with pytest.raises(WhitelistError):
        normalize_entries([entry], ROUTES)


def test_allows_by_method_and_template() -> None:
    whitelist = ["POST /v2/coupon/issue", "GET /v2/customers/{id}"]
    assert allows(whitelist, "POST", "/v2/coupon/issue")
    assert not allows(whitelist, "GET", "/v2/coupon/issue")
    assert allows(whitelist, "HEAD", "/v2/customers/{id}")
    assert not allows(whitelist, "GET", "/v2/customers/{id}/coupons")
    assert not allows(whitelist, "GET", None)
    assert allows(["*"], "DELETE", None)
    assert not allows([], "GET", "/v2/customers/{id}")


async def test_whitelist_decides_over_http(gateways: StartGateway) -> None:
    client = await gateways()
    token = await create_token(
        client,
        "reverser",
        ["POST /v2/coupon/redemptions/{id}/reverse", "GET /api/v1/promotions/{code}"],
    )
    assert token["whitelist"] == [
        "POST /v2/coupon/redemptions/{redemptionId}/reverse",
        "GET /api/v1/promotions/{code}",
    ]
    auth = bearer(token["token"])
    cases = [
        ("POST", "/v2/coupon/redemptions/77/reverse", 200),
        ("POST", "/v2/coupon/redemptions/78/reverse/", 200),
        ("GET", "/v2/coupon/redemptions/77/reverse", 403),
        ("POST", "/v2/coupon/redemptions/77", 403),
        ("GET", "/api/v1/promotions/SUMMER", 200),
        ("DELETE", "/api/v1/promotions/SUMMER", 403),
        ("GET", "/api/v1/promotions", 403),
        ("GET", "/api/v1/promotions/SUMMER/coupons", 403),
        ("GET", "/v2/coupon/redemptions/77/unknown", 403),
        ("GET", "/api/v1/api-tokens", 403),
    ]
    for method, path, status in cases:
        response = await client.request(method, path, headers=auth)
        assert response.status == status, (method, path)


async def test_unknown_routed_path_needs_the_wildcard(gateways: StartGateway) -> None:
    client = await gateways()
    narrow = await create_token(client, "narrow", ["POST /v2/coupon/issue"])
    wide = await create_token(client, "wide", ["*"])
    path = "/v2/coupon/series/1/something-new"
    assert (await client.get(path, headers=bearer(narrow["token"]))).status == 403
    assert (await client.get(path, headers=bearer(wide["token"]))).status == 200
    # A path nobody serves: the wildcard gets past the edge, then 404.
    assert (await client.get("/nowhere", headers=bearer(narrow["token"]))).status == 403
    assert (await client.get("/nowhere", headers=bearer(wide["token"]))).status == 404


async def test_whitelist_grants_admin_endpoints_too(gateways: StartGateway) -> None:
    client = await gateways()
    auditor = await create_token(client, "auditor", ["GET /api/v1/api-tokens"])
    listed = await client.get("/api/v1/api-tokens", headers=bearer(auditor["token"]))
    assert listed.status == 200
    create = await client.post(
        "/api/v1/api-tokens", json={"name": "x"}, headers=bearer(auditor["token"])
    )
    assert create.status == 403
    assert (await client.get("/api/v1/api-tokens", headers=ADMIN)).status == 200
