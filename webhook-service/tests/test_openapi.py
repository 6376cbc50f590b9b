"""The webhook-service's OpenAPI document: every route described, and the catalogue of event
types with each body's schema."""

from __future__ import annotations

from typing import Any

from coupon_core.openapi import build_document
from coupon_core.routes import PLATFORM_ROUTES
from coupon_dev.testing.openapi import assert_fully_documented
from openapi_schema_validator import OAS31Validator
from webhook_service.app import create_app
from webhook_service.domain.catalogue import CATALOGUE, example_body
from webhook_service.settings import Settings


def _model_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace(".", "_").split("_"))


def test_every_route_is_documented_and_exists(service_env: dict[str, Any]) -> None:
    app = create_app(Settings(**service_env))
    assert_fully_documented(app, {f"{m} {t}" for m, t in PLATFORM_ROUTES})


def test_the_document_holds_the_catalogue_and_each_body_schema(
    service_env: dict[str, Any],
) -> None:
    document = build_document(create_app(Settings(**service_env)), title="webhook-service")
    schemas = document["components"]["schemas"]
    catalogue = document["paths"]["/api/v1/webhooks/event-types"]["get"]
    for entry in CATALOGUE:
        name = _model_name(entry.type)
        assert f"`{entry.type}`" in catalogue["description"]
        assert f"{name}Event" in schemas, name
        assert f"{name}Data" in schemas, name
        # The example body of each type is valid against its own schema.
        rooted = {"$ref": f"#/components/schemas/{name}Event", "components": {"schemas": schemas}}
        errors = list(OAS31Validator(rooted).iter_errors(example_body(entry)))
        assert errors == [], (entry.type, errors)
