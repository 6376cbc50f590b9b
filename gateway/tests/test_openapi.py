"""``/openapi.json`` (the platform's merged document) and ``/docs``, both public."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from coupon_core.openapi import Doc, add_document_route, build_document, documented
from coupon_core.routes import (
    PLATFORM_ROUTES,
    PUBLIC_PATHS,
    PUBLIC_ROUTES,
    USER_TEMPLATES,
    RouteTable,
)
from coupon_dev.gateway_fixtures import StartGateway, ThroughGateway
from coupon_dev.testing.openapi import answer_problems
from coupon_dev.testing.plugin import TEST_IDENTITY_SECRET
from gateway.api.docs import UNAVAILABLE_HEADER, platform_document
from gateway.app import create_app
from gateway.settings import Settings
from issuance_service.app import create_app as issuance_app
from issuance_service.settings import Settings as IssuanceSettings
from openapi_spec_validator import validate
from promotion_service.app import create_app as promotion_app
from promotion_service.settings import Settings as PromotionSettings
from pydantic import BaseModel
from redemption_service.app import create_app as redemption_app
from redemption_service.settings import Settings as RedemptionSettings
from webhook_service.app import create_app as webhook_app
from webhook_service.settings import Settings as WebhookSettings

STORES: dict[str, Any] = {
    "database_url": "postgresql://unused@127.0.0.1:1/unused",
    "redis_url": "redis://127.0.0.1:1/0",
    "identity_secret": TEST_IDENTITY_SECRET,
    "environment": "test",
}


class Widget(BaseModel):
    """One widget."""

    code: str


@documented(Doc(summary="Show a widget", responses={200: Widget, 404: "no such widget"}))
async def show_customer(request: web.Request) -> web.Response:
    return web.json_response({"code": request.match_info["id"]})


def documented_service() -> web.Application:
    app = web.Application()
    app.router.add_get("/v2/customers/{id}", show_customer)
    add_document_route(app, title="test-service")
    return app


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


async def test_merged_document_is_public_valid_and_secured(
    through_gateway: ThroughGateway,
) -> None:
    client = await through_gateway(documented_service())
    response = await client.get("/openapi.json", headers={"Authorization": ""})
    assert response.status == 200
    assert UNAVAILABLE_HEADER not in response.headers
    document = await response.json()
    validate(document)
    operations = _operations(document)
    assert set(document["components"]["securitySchemes"]) == {
        "bearerAuth",
        "basicAuth",
        "userToken",
    }
    assert operations["GET", "/v2/customers/{id}"]["security"] == [
        {"bearerAuth": []},
        {"basicAuth": []},
    ]
    assert "Widget" in document["components"]["schemas"]
    assert operations["POST", "/api/v1/users/login"]["security"] == []
    assert operations["GET", "/api/v1/users/me"]["security"] == [{"userToken": []}]
    assert operations["GET", "/docs"]["security"] == []


async def test_a_service_that_does_not_answer_is_named(gateways: StartGateway) -> None:
    client = await gateways(
        promotion_upstreams="http://127.0.0.1:1", issuance_upstreams="http://127.0.0.1:1"
    )
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.headers[UNAVAILABLE_HEADER] == "issuance, promotion"
    document = await response.json()
    assert document["info"]["x-unavailable-services"] == ["issuance", "promotion"]
    validate(document)


async def test_docs_page_and_its_assets_are_served_without_credentials(
    gateways: StartGateway,
) -> None:
    client = await gateways()
    page = await client.get("/docs")
    assert page.status == 200
    html = await page.text()
    assert "/openapi.json" in html
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        served = await client.get(asset)
        assert served.status == 200, asset
        assert len(await served.read()) > 1000


def platform() -> dict[str, Any]:
    gateway = create_app(
        Settings(
            **STORES,
            promotion_upstreams="http://127.0.0.1:1",
            issuance_upstreams="http://127.0.0.1:1",
            redemption_upstreams="http://127.0.0.1:1",
            webhook_upstreams="http://127.0.0.1:1",
        )
    )
    services = [
        promotion_app(PromotionSettings(**STORES)),
        issuance_app(IssuanceSettings(**STORES)),
        redemption_app(RedemptionSettings(**STORES)),
        webhook_app(WebhookSettings(**STORES)),
    ]
    parts = [build_document(app, title=str(index)) for index, app in enumerate(services)]
    return platform_document(build_document(gateway, title="gateway"), parts, [])


def test_the_platform_document_covers_every_route_template() -> None:
    document = platform()
    validate(document)
    routes = RouteTable()
    described = {(method, routes.template_for(path)) for method, path in _operations(document)}
    missing = [f"{m} {t}" for m, t in PLATFORM_ROUTES if (m, t) not in described]
    assert missing == []
    for (method, path), operation in _operations(document).items():
        template = routes.template_for(path)
        if path in PUBLIC_PATHS or (method, template) in PUBLIC_ROUTES:
            assert operation["security"] == []
        elif template in USER_TEMPLATES:
            assert operation["security"] == [{"userToken": []}]
        else:
            assert operation["security"] == [{"bearerAuth": []}, {"basicAuth": []}]


def test_every_operation_declares_its_answers() -> None:
    """Each of the platform's operations says what it answers, success and errors, with a
    schema a generated client parses into a typed model; its examples fit those schemas."""
    document = platform()
    assert answer_problems(document) == []
    for (method, path), operation in _operations(document).items():
        for status, response in operation["responses"].items():
            if status.startswith("4") or status == "default":
                assert "application/json" in response["content"], (method, path, status)


# Operations whose seed (shared/seeds) shows an answer, and the statuses it shows.
SEED_EXAMPLES = {
    ("POST", "/api/v1/coupon/activate"): ("200",),
    ("POST", "/api/v1/promotions/{promotion}/coupons/"): ("201", "400"),
    ("GET", "/api/v1/promotions/{promotion}/coupons/{coupon}"): ("200",),
    ("GET", "/api/v1/promotions/{promotion}/coupons"): ("200",),
    ("POST", "/v2/coupon/issue"): ("200",),
    ("POST", "/v1.1/coupon/redeem"): ("200",),
}


def test_the_seeds_answers_are_the_examples() -> None:
    operations = _operations(platform())
    for (method, path), statuses in SEED_EXAMPLES.items():
        responses = operations[method, path]["responses"]
        for status in statuses:
            assert "example" in responses[status]["content"]["application/json"], (path, status)


def test_a_schema_two_services_name_alike_is_kept_for_each() -> None:
    """The issuance-service's CustomerIn (a registration) and the redemption-service's (the
    customer a redeem names) differ: each operation refers to its own."""
    document = platform()
    schemas = document["components"]["schemas"]

    def named(ref: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = schemas[ref["$ref"].rpartition("/")[2]]
        return found

    def body(method: str, path: str) -> dict[str, Any]:
        content = document["paths"][path][method]["requestBody"]["content"]
        return named(content["application/json"]["schema"])

    redeem = body("post", "/v1.1/coupon/redeem")
    coupon = named(named(redeem["properties"]["root"])["properties"]["coupon"]["items"])
    assert "external_id" in named(coupon["properties"]["customer"])["properties"]
    assert "firstName" in body("post", "/v2/customers")["properties"]
