"""Assertions every service's tests make about its API description."""

from __future__ import annotations

from aiohttp import web
from openapi_spec_validator import validate

from coupon_core.openapi import build_document, documented_operations, undocumented_routes


def assert_fully_documented(app: web.Application, templates: set[str]) -> None:
    """Every route of ``app`` is described, the description validates, and every described
    operation is one of ``templates`` (``"METHOD /path"`` with any parameter names), so a
    documented operation always exists in the platform's route table."""
    assert undocumented_routes(app) == []
    document = build_document(app, title="test")
    validate(document)
    shapes = {_shape(t) for t in templates}
    unknown = sorted(op for op in documented_operations(document) if _shape(op) not in shapes)
    assert unknown == []


def _shape(operation: str) -> str:
    method, _, path = operation.partition(" ")
    segments = ["{}" if s.startswith("{") else s for s in path.rstrip("/").split("/")]
    return f"{method} {'/'.join(segments)}"
