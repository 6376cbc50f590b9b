"""The OpenAPI document is built from the routes and their pydantic models."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from coupon_core.openapi import (
    Doc,
    build_document,
    documented,
    documented_operations,
    merge_documents,
    undocumented_routes,
)
from coupon_core.settings import ServiceSettings
from coupon_core.web import build_app
from openapi_spec_validator import validate
from pydantic import BaseModel, Field


class CouponIn(BaseModel):
    code: str = Field(min_length=1)
    usageLimit: int | None = None


class CouponOut(BaseModel):
    """A coupon."""

    id: int
    code: str


class ListQuery(BaseModel):
    page: int = 1


@documented(
    Doc(
        summary="Create a coupon",
        tags=("coupons",),
        body=CouponIn,
        responses={201: CouponOut, 400: "Validation failed"},
        security=("bearer",),
    )
)
async def create(request: web.Request) -> web.Response:
    return web.Response()


@documented(Doc(summary="List coupons", query=ListQuery, responses={200: CouponOut}))
async def listing(request: web.Request) -> web.Response:
    return web.Response()


async def forgotten(request: web.Request) -> web.Response:
    return web.Response()


def _app() -> web.Application:
    app = web.Application()
    app.router.add_post("/api/v1/promotions/{promotionCode}/coupons", create)
    app.router.add_get("/api/v1/promotions/{promotionCode}/coupons", listing)
    return app


def test_document_is_valid_openapi_3_1_built_from_the_models() -> None:
    document = build_document(_app(), title="t")
    validate(document)
    operation = document["paths"]["/api/v1/promotions/{promotionCode}/coupons"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CouponIn"
    }
    assert operation["parameters"][0]["name"] == "promotionCode"
    assert operation["security"] == [{"bearer": []}]
    assert document["components"]["schemas"]["CouponIn"]["required"] == ["code"]
    listing_op = document["paths"]["/api/v1/promotions/{promotionCode}/coupons"]["get"]
    assert {p["name"] for p in listing_op["parameters"]} == {"promotionCode", "page"}


def test_undocumented_routes_are_found() -> None:
    app = _app()
    assert undocumented_routes(app) == []
    app.router.add_delete("/api/v1/promotions/{code}", forgotten)
    assert undocumented_routes(app) == ["DELETE /api/v1/promotions/{code}"]


def test_merge_keeps_every_part() -> None:
    first = build_document(_app(), title="a")
    other = web.Application()
    other.router.add_get("/v2/coupon/series", listing)
    merged = merge_documents(first, [build_document(other, title="b")])
    validate(merged)
    assert documented_operations(merged) == {
        "POST /api/v1/promotions/{promotionCode}/coupons",
        "GET /api/v1/promotions/{promotionCode}/coupons",
        "GET /v2/coupon/series",
    }


async def test_every_service_serves_its_document_without_identity(
    aiohttp_client: Any, service_env: dict[str, Any]
) -> None:
    app = build_app(ServiceSettings(**service_env), service="svc", migrations_dir=None)
    app.router.add_post("/v2/things", create)
    client = await aiohttp_client(app)
    response = await client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    validate(document)
    assert documented_operations(document) == {"POST /v2/things"}
