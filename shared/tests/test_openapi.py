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
from pydantic import BaseModel, Field, create_model


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


def test_error_answers_carry_the_envelope_of_their_family() -> None:
    """An error status named by a description gets its URL family's envelope (SPEC section
    7) as its schema, and every operation a ``default`` for any other error."""
    sylius = build_document(_app(), title="t")
    operation = sylius["paths"]["/api/v1/promotions/{promotionCode}/coupons"]["post"]
    responses = operation["responses"]
    assert responses["400"]["description"] == "Validation failed"
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/SyliusValidationFailed"},
            {"$ref": "#/components/schemas/SyliusError"},
        ]
    }
    default = responses["default"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/SyliusAccessDenied"} in default["anyOf"]
    assert "SyliusValidationFailed" in sylius["components"]["schemas"]
    capillary = web.Application()
    capillary.router.add_post("/v2/coupon/series", create)
    v2 = build_document(capillary, title="t")
    answers = v2["paths"]["/v2/coupon/series"]["post"]["responses"]
    assert answers["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CapillaryV2Error"
    }
    assert answers["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CapillaryV2Error"
    }
    validate(v2)


@documented(
    Doc(
        summary="Create a coupon",
        body=CouponIn,
        body_example={"code": "A3BCB"},
        responses={201: CouponOut, 400: "Validation failed"},
        examples={201: {"id": 5, "code": "A3BCB"}},
    )
)
async def create_with_examples(request: web.Request) -> web.Response:
    return web.Response()


def test_examples_are_given_with_their_request_and_response() -> None:
    app = web.Application()
    app.router.add_post("/api/v1/promotions/{promotionCode}/coupons", create_with_examples)
    document = build_document(app, title="t")
    validate(document)
    operation = document["paths"]["/api/v1/promotions/{promotionCode}/coupons"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["example"] == {"code": "A3BCB"}
    created = operation["responses"]["201"]["content"]["application/json"]
    assert created["example"] == {"id": 5, "code": "A3BCB"}


def test_merge_keeps_apart_two_schemas_of_the_same_name() -> None:
    """Two services may each name a model alike: the later one is renamed after its
    document's title, and its operations refer to it by the new name."""
    registration = create_model("CustomerIn", firstName=(str, ""))
    reference = create_model("CustomerIn", external_id=(str | None, None))

    def service(path: str, model: type[BaseModel], title: str) -> dict[str, Any]:
        @documented(Doc(summary="x", body=model, responses={200: CouponOut}))
        async def handler(request: web.Request) -> web.Response:
            return web.Response()

        app = web.Application()
        app.router.add_post(path, handler)
        return build_document(app, title=title)

    merged = merge_documents(
        service("/v2/customers", registration, "issuance"),
        [service("/v1.1/coupon/redeem", reference, "redemption")],
    )
    validate(merged)
    schemas = merged["components"]["schemas"]
    body = merged["paths"]["/v1.1/coupon/redeem"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RedemptionCustomerIn"
    }
    assert "external_id" in schemas["RedemptionCustomerIn"]["properties"]
    assert schemas["RedemptionCustomerIn"]["title"] == "RedemptionCustomerIn"
    assert "firstName" in schemas["CustomerIn"]["properties"]
    assert "RedemptionCouponOut" not in schemas  # the same schema under the same name is shared
