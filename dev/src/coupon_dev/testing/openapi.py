"""Assertions every service's tests make about its API description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from coupon_core.openapi import build_document, documented_operations, undocumented_routes
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

NO_CONTENT = "204"


def assert_fully_documented(app: web.Application, templates: set[str]) -> None:
    """Every route of ``app`` is described, the description validates, and every described
    operation is one of ``templates`` (``"METHOD /path"`` with any parameter names), so a
    documented operation always exists in the platform's route table. Every operation
    declares its answers (:func:`answer_problems`)."""
    assert undocumented_routes(app) == []
    document = build_document(app, title="test")
    validate(document)
    shapes = {_shape(t) for t in templates}
    unknown = sorted(op for op in documented_operations(document) if _shape(op) not in shapes)
    assert unknown == []
    assert answer_problems(document) == []


def answer_problems(document: Mapping[str, Any]) -> list[str]:
    """What a generated client could not parse: an operation without a success response, a
    response with a body but no schema for it (a 204 has none), an operation without a
    ``default`` (any other error, in its family's envelope), and an example (of a request or
    of a response) that its own schema refuses."""
    problems: list[str] = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            responses: Mapping[str, Any] = operation.get("responses", {})
            if not any(status.startswith("2") for status in responses):
                problems.append(f"{label}: no success response")
            if "default" not in responses:
                problems.append(f"{label}: no default (error) response")
            for status, response in responses.items():
                content = response.get("content") or {}
                if status == NO_CONTENT:
                    if content:
                        problems.append(f"{label} {status}: a body on No Content")
                    continue
                if not content:
                    problems.append(f"{label} {status}: no content declared")
                for media_type, media in content.items():
                    where = f"{label} {status} {media_type}"
                    problems.extend(_media_problems(document, where, media))
            body = operation.get("requestBody", {}).get("content", {})
            for media_type, media in body.items():
                problems.extend(_media_problems(document, f"{label} body {media_type}", media))
    return problems


def _media_problems(document: Mapping[str, Any], where: str, media: Mapping[str, Any]) -> list[str]:
    schema = media.get("schema")
    if schema is None:
        return [f"{where}: no schema"]
    if "example" not in media:
        return []
    rooted = {**schema, "components": document.get("components", {})}
    return [
        f"{where}: example refused: {error.message} at {list(error.absolute_path)}"
        for error in OAS31Validator(rooted).iter_errors(media["example"])
    ]


def _shape(operation: str) -> str:
    method, _, path = operation.partition(" ")
    segments = ["{}" if s.startswith("{") else s for s in path.rstrip("/").split("/")]
    return f"{method} {'/'.join(segments)}"
