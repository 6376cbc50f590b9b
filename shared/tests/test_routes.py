"""The platform's one route table: every endpoint names the process that serves it and who
may call it, and one match of a path gives both its template (authorization, whitelists,
metrics) and its upstream (routing), so the two cannot disagree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from coupon_core.routes import (
    ENDPOINTS,
    GATEWAY,
    ISSUANCE,
    MOUNTS,
    PLATFORM,
    PROMOTION,
    REDEMPTION,
    WEBHOOK,
    Access,
    Endpoint,
    Mount,
    RouteMatch,
    RouteTable,
    TemplateError,
    shape,
)

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("promotion-service", "issuance-service", "redemption-service", "webhook-service")


def sample(template: str) -> str:
    """A path the template matches: each parameter filled with a value."""
    return re.sub(r"\{[^}]+\}", "x1", template)


def test_every_endpoint_has_one_upstream_and_one_access() -> None:
    seen = [(e.method, shape(e.template)) for e in ENDPOINTS]
    assert len(seen) == len(set(seen))
    for endpoint in ENDPOINTS:
        assert endpoint.service in (GATEWAY, PROMOTION, ISSUANCE, REDEMPTION, WEBHOOK)
        assert isinstance(endpoint.access, Access)
    assert {e.service for e in ENDPOINTS} == {GATEWAY, PROMOTION, ISSUANCE, REDEMPTION, WEBHOOK}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.template}")
def test_one_match_gives_the_template_and_its_upstream(endpoint: Endpoint) -> None:
    upstream = None if endpoint.service == GATEWAY else endpoint.service
    for path in (sample(endpoint.template), sample(endpoint.template) + "/"):
        assert PLATFORM.match(path) == RouteMatch(endpoint.template, upstream), path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/promotions/7/generate", RouteMatch(None, PROMOTION)),
        ("/v2/coupon/series/1/something-new", RouteMatch(None, ISSUANCE)),
        ("/v1.1/coupon/", RouteMatch(None, REDEMPTION)),
        ("/v1.1/coupon", RouteMatch(None, None)),
        ("/v2/customers/lookup", RouteMatch("/v2/customers/lookup", ISSUANCE)),
        ("/v2/customers/42", RouteMatch("/v2/customers/{id}", ISSUANCE)),
        ("/v2/customers/lookup/coupons", RouteMatch("/v2/customers/{id}/coupons", ISSUANCE)),
        ("/api/v1/promotions//", RouteMatch(None, PROMOTION)),
        ("/api/v1/users/login", RouteMatch("/api/v1/users/login", None)),
        ("/nowhere", RouteMatch(None, None)),
        ("", RouteMatch(None, None)),
    ],
)
def test_paths_outside_every_template_are_routed_by_their_mount(
    path: str, expected: RouteMatch
) -> None:
    assert PLATFORM.match(path) == expected


def test_an_endpoint_its_service_does_not_serve_is_refused() -> None:
    with pytest.raises(TemplateError, match="issuance"):
        RouteTable((Endpoint("GET", "/v2/customers/{id}", REDEMPTION),), MOUNTS)
    with pytest.raises(TemplateError):
        RouteTable((Endpoint("GET", "/api/v1/promotions", GATEWAY),), MOUNTS)


def test_a_template_across_two_mounts_is_refused() -> None:
    """``/v2/coupon/{x}`` would send ``/v2/coupon/redemptions`` to issuance by its template
    and to redemption by its mount."""
    mounts = (Mount(ISSUANCE, "/v2/coupon*"), Mount(REDEMPTION, "/v2/coupon/redemptions*"))
    with pytest.raises(TemplateError, match="redemptions"):
        RouteTable((Endpoint("GET", "/v2/coupon/{x}", ISSUANCE),), mounts)


def _imported_modules(source: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("service", SERVICES)
def test_services_and_their_tests_import_nothing_from_the_gateway(service: str) -> None:
    """The services check their documents against the table in the shared library."""
    sources = sorted((ROOT / service).glob("**/*.py"))
    assert sources
    importing = [
        str(source.relative_to(ROOT))
        for source in sources
        if any(m == "gateway" or m.startswith("gateway.") for m in _imported_modules(source))
    ]
    assert importing == []
