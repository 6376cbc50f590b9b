"""OpenAPI 3.1 from the routes themselves: each handler is described with the same pydantic
models it validates with, so the document cannot drift from the code.

    @documented(Doc(summary="Create a coupon", body=CouponIn, responses={201: CouponOut}))
    async def create_coupon(request): ...

:func:`build_document` walks an application's router; :func:`undocumented_routes` lists the
routes without a description (a test asserts it is empty). Every service serves its own
document at ``/openapi.json``; the gateway merges them with its own (:func:`merge_documents`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from coupon_core.http import json_response

H = TypeVar("H", bound=Callable[..., Any])

OPENAPI_VERSION = "3.1.0"
DOCUMENT_PATH = "/openapi.json"
NOT_DOCUMENTED = frozenset({"/healthz", "/readyz", "/metrics", DOCUMENT_PATH})
_ATTRIBUTE = "__openapi__"
_PARAM_RE = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Doc:
    """How one operation is described. ``responses`` maps a status to a model (its body) or
    to a plain description; ``security`` names security schemes (``()`` for public)."""

    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_content_types: tuple[str, ...] = ("application/json",)
    query: type[BaseModel] | None = None
    responses: Mapping[int, type[BaseModel] | str] = field(default_factory=dict)
    response_content_type: str = "application/json"
    security: tuple[str, ...] | None = None
    operation_id: str | None = None


def documented(doc: Doc) -> Callable[[H], H]:
    def attach(handler: H) -> H:
        setattr(handler, _ATTRIBUTE, doc)
        return handler

    return attach


def doc_of(handler: object) -> Doc | None:
    found = getattr(handler, _ATTRIBUTE, None)
    return found if isinstance(found, Doc) else None


def _routes(app: web.Application) -> Iterable[tuple[str, str, object]]:
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        if isinstance(resource, web.StaticResource):
            continue  # files, not operations
        path = _PARAM_RE.sub(lambda m: "{" + m.group(1) + "}", resource.canonical)
        if path in NOT_DOCUMENTED:
            continue
        yield route.method, path, route.handler


def undocumented_routes(app: web.Application) -> list[str]:
    return [f"{method} {path}" for method, path, handler in _routes(app) if doc_of(handler) is None]


def documented_operations(document: Mapping[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in document.get("paths", {}).items()
        for method in item
    }


def _schemas(
    docs: Iterable[Doc],
) -> tuple[dict[tuple[type[BaseModel], JsonSchemaMode], Any], dict[str, Any]]:
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for doc in docs:
        if doc.body is not None:
            wanted.add((doc.body, "validation"))
        for response in doc.responses.values():
            if isinstance(response, type):
                wanted.add((response, "serialization"))
    if not wanted:
        return {}, {}
    refs, definitions = models_json_schema(
        sorted(wanted, key=lambda item: (item[0].__name__, item[1])),
        ref_template="#/components/schemas/{model}",
    )
    found: dict[Any, Any] = {key: value for key, value in refs.items()}
    return found, dict(definitions.get("$defs", {}))


def _operation(method: str, path: str, doc: Doc, refs: Mapping[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": doc.summary,
        "operationId": doc.operation_id or f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
        "responses": {},
    }
    if doc.description:
        operation["description"] = doc.description
    if doc.tags:
        operation["tags"] = list(doc.tags)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM_RE.findall(path)
    ]
    if doc.query is not None:
        schema = doc.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if parameters:
        operation["parameters"] = parameters
    if doc.body is not None:
        schema_ref = refs[(doc.body, "validation")]
        operation["requestBody"] = {
            "required": True,
            "content": {ct: {"schema": schema_ref} for ct in doc.body_content_types},
        }
    for status, response in sorted(doc.responses.items()):
        if isinstance(response, str):
            operation["responses"][str(status)] = {"description": response}
        else:
            operation["responses"][str(status)] = {
                "description": response.__doc__.strip().splitlines()[0]
                if response.__doc__
                else response.__name__,
                "content": {
                    doc.response_content_type: {"schema": refs[(response, "serialization")]}
                },
            }
    if not operation["responses"]:
        operation["responses"]["200"] = {"description": "OK"}
    if doc.security is not None:
        operation["security"] = [{name: []} for name in doc.security]
    return operation


def build_document(app: web.Application, *, title: str, version: str = "1.0.0") -> dict[str, Any]:
    described = [(m, p, d) for m, p, h in _routes(app) if (d := doc_of(h)) is not None]
    refs, schemas = _schemas(d for _, _, d in described)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, doc in described:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, doc, refs)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def merge_documents(base: dict[str, Any], parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``base`` with the paths and schemas of ``parts`` added (later parts never overwrite)."""
    merged = {**base, "paths": dict(base.get("paths", {}))}
    components = dict(base.get("components", {}))
    schemas = dict(components.get("schemas", {}))
    for part in parts:
        for path, item in part.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(
                {k: v for k, v in item.items() if k not in merged["paths"].get(path, {})}
            )
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(name, schema)
    components["schemas"] = dict(sorted(schemas.items()))
    merged["components"] = components
    merged["paths"] = dict(sorted(merged["paths"].items()))
    return merged


def add_document_route(app: web.Application, *, title: str) -> None:
    """Serve the application's own document at ``/openapi.json`` (built once, on first use)."""
    cache: dict[str, dict[str, Any]] = {}

    async def document(request: web.Request) -> web.Response:
        if "doc" not in cache:
            cache["doc"] = build_document(request.app, title=title)
        return json_response(cache["doc"])

    app.router.add_get(DOCUMENT_PATH, document)
