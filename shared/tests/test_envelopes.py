"""The error envelope of each URL family (SPEC section 7), byte for byte, and the models
that describe it in the API document accept exactly what is sent."""

from __future__ import annotations

import orjson
import pytest
from coupon_core.errors import DomainError, NotFound, Unauthorized, ValidationFailed
from coupon_core.families import Family, error_body, error_models, family_for_path
from pydantic import ValidationError

CASES = [
    (
        Family.SYLIUS,
        ValidationFailed({"code": ["Please enter coupon code."]}, form_fields=("usageLimit",)),
        b'{"code":400,"message":"Validation Failed","errors":{"children":'
        b'{"usageLimit":{},"code":{"errors":["Please enter coupon code."]}}}}',
    ),
    (
        Family.SYLIUS,
        Unauthorized("Requests must come through the gateway."),
        b'{"error":"access_denied","error_description":"Requests must come through the gateway."}',
    ),
    (Family.SYLIUS, NotFound("No such promotion."), b'{"code":404,"message":"No such promotion."}'),
    (
        Family.CRM,
        NotFound("No such coupon.", code="coupon_doesnt_exist"),
        b'{"status":"error","message":"No such coupon.","code":"coupon_doesnt_exist"}',
    ),
    (
        Family.CAPILLARY_V11,
        DomainError("Malformed.", numeric_code=500),
        b'{"response":{"status":{"success":"false","code":500,"message":"Malformed."}}}',
    ),
    (
        Family.CAPILLARY_V2,
        NotFound("No series 7.", numeric_code=1404),
        b'{"errors":[{"code":1404,"message":"No series 7."}],"warnings":[]}',
    ),
    (Family.PLAIN, NotFound("No route."), b'{"error":"not_found","message":"No route."}'),
]


@pytest.mark.parametrize(("family", "error", "wire"), CASES)
def test_each_family_answers_its_envelope(family: Family, error: DomainError, wire: bytes) -> None:
    assert orjson.dumps(error_body(family, error)) == wire


@pytest.mark.parametrize(("family", "error", "wire"), CASES)
def test_the_declared_envelopes_accept_what_is_sent(
    family: Family, error: DomainError, wire: bytes
) -> None:
    """One of the models the document declares for the error's status reads the body and
    writes it back the same."""
    rewritten = []
    for model in error_models(family, error.status):
        try:
            rewritten.append(orjson.dumps(model.model_validate_json(wire).body()))
        except ValidationError:
            continue
    assert wire in rewritten


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/api/v1/promotions", Family.SYLIUS),
        ("/api/v1/promotions/X/coupons", Family.SYLIUS),
        # The promotion-service's statistics answer as its other paths do.
        ("/api/v1/promotion-stats", Family.SYLIUS),
        ("/api/v1/promotion-stats/", Family.SYLIUS),
        ("/api/v1/promotion-statsx", Family.CRM),
        ("/api/v1/api-tokens", Family.CRM),
        ("/v2/coupon/issue/stats", Family.CAPILLARY_V2),
    ],
)
def test_each_path_answers_in_its_family(path: str, family: Family) -> None:
    assert family_for_path(path) is family
