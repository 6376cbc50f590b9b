"""OpenAPI 3.1 from the routes themselves: each handler is described with the same pydantic
models it validates with and answers with, so the document cannot drift from the code.

    @documented(Doc(summary="Create a coupon", body=CouponIn,
                    responses={201: CouponOut, 400: "Validation Failed"}))
    async def create_coupon(request): ...

A success status maps to the model its body is rendered through (or, without a body, to a
description); an error status to a description: its schema is the envelope of the path's
URL family (:func:`coupon_core.families.error_models`, SPEC section 7), and every operation
also declares that envelope as its ``default`` answer (any other error). ``examples`` and
``body_example`` carry bodies taken from the seeds.

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

from coupon_core.families import error_models, family_for_path
from coupon_core.http import json_response

H = TypeVar("H", bound=Callable[..., Any])

OPENAPI_VERSION = "3.1.0"
DOCUMENT_PATH = "/openapi.json"
NOT_DOCUMENTED = frozenset({"/healthz", "/readyz", "/metrics", DOCUMENT_PATH})
# The console's HTML pages (gateway/console): pages for people, not API operations.
CONSOLE_PAGES = "/console"
_ATTRIBUTE = "__openapi__"
_PARAM_RE = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
JSON = "application/json"
NO_CONTENT = 204
_SCHEMA_REF = "#/components/schemas/"


@dataclass(frozen=True)
class Doc:
    """How one operation is described. ``responses`` maps a status to a model (its body) or
    to a plain description (an error's body is its family's envelope); ``examples`` maps a
    status to an example body and ``body_example`` is one of the request body; ``security``
    names security schemes (``()`` for public)."""

    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_content_types: tuple[str, ...] = ("application/json",)
    query: type[BaseModel] | None = None
    body_example: Any = None
    responses: Mapping[int, type[BaseModel] | str] = field(default_factory=dict)
    examples: Mapping[int, Any] = field(default_factory=dict)
    response_content_type: str = JSON
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
        if path in NOT_DOCUMENTED or path == CONSOLE_PAGES or path.startswith(CONSOLE_PAGES + "/"):
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


Refs = Mapping[tuple[type[BaseModel], JsonSchemaMode], Any]


def _schemas(described: Iterable[tuple[str, Doc]]) -> tuple[Refs, dict[str, Any]]:
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for path, doc in described:
        if doc.body is not None:
            wanted.add((doc.body, "validation"))
        for response in doc.responses.values():
            if isinstance(response, type):
                wanted.add((response, "serialization"))
        wanted.update((m, "serialization") for m in error_models(family_for_path(path)))
    if not wanted:
        return {}, {}
    refs, definitions = models_json_schema(
        sorted(wanted, key=lambda item: (item[0].__name__, item[1])),
        ref_template="#/components/schemas/{model}",
    )
    found: dict[Any, Any] = {key: value for key, value in refs.items()}
    return found, dict(definitions.get("$defs", {}))


def _operation_id(method: str, path: str) -> str:
    """``get_api_v1_promotions``; a path's trailing-slash twin ends in ``_slash`` (an id
    must stay unique once a generator turns it into a Python name)."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{name}" + ("_slash" if path.endswith("/") else "")


def _described(model: type[BaseModel]) -> str:
    return model.__doc__.strip().splitlines()[0] if model.__doc__ else model.__name__


def _media(schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {"schema": schema} if example is None else {"schema": schema, "example": example}


def error_answer(
    path: str, status: int | None, description: str, example: Any = None
) -> dict[str, Any]:
    """An error response of ``path`` (``status`` None: any): its URL family's envelope."""
    refs = [{"$ref": _SCHEMA_REF + m.__name__} for m in error_models(family_for_path(path), status)]
    schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
    return {"description": description, "content": {JSON: _media(schema, example)}}


def _answer(
    status: int, response: type[BaseModel] | str, doc: Doc, path: str, refs: Refs
) -> dict[str, Any]:
    example = doc.examples.get(status)
    content_type = JSON if status >= 400 else doc.response_content_type
    if isinstance(response, type):
        media = _media(refs[(response, "serialization")], example)
        return {"description": _described(response), "content": {content_type: media}}
    if status >= 400:
        return error_answer(path, status, response, example)
    if status == NO_CONTENT or content_type == JSON:
        return {"description": response}  # no body, or one the document cannot describe
    # A page, a file: text, or bytes.
    text: dict[str, Any] = {"type": "string"}
    if not content_type.startswith("text/"):
        text["contentMediaType"] = content_type
    return {"description": response, "content": {content_type: _media(text, example)}}


def _operation(method: str, path: str, doc: Doc, refs: Refs) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": doc.summary,
        "operationId": doc.operation_id or _operation_id(method, path),
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
        body = _media(refs[(doc.body, "validation")], doc.body_example)
        operation["requestBody"] = {
            "required": True,
            "content": {ct: body for ct in doc.body_content_types},
        }
    for status, response in sorted(doc.responses.items()):
        operation["responses"][str(status)] = _answer(status, response, doc, path, refs)
    if not operation["responses"]:
        operation["responses"]["200"] = {"description": "OK"}
    family = family_for_path(path).value
    operation["responses"]["default"] = error_answer(
        path, None, f"Any other error, in the {family} error envelope (SPEC section 7)"
    )
    if doc.security is not None:
        operation["security"] = [{name: []} for name in doc.security]
    return operation


def build_document(app: web.Application, *, title: str, version: str = "1.0.0") -> dict[str, Any]:
    described = [(m, p, d) for m, p, h in _routes(app) if (d := doc_of(h)) is not None]
    refs, schemas = _schemas((p, d) for _, p, d in described)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, doc in described:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, doc, refs)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def _renamed(value: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
            name = ref[len(_SCHEMA_REF) :]
            value = {**value, "$ref": _SCHEMA_REF + renames.get(name, name)}
        return {key: _renamed(item, renames) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, renames) for item in value]
    return value


def _kept_apart(part: Mapping[str, Any], taken: Mapping[str, Any]) -> Mapping[str, Any]:
    """``part`` with each schema whose name ``taken`` already gives another schema renamed
    after the part's title (``CustomerIn`` of "redemption": ``RedemptionCustomerIn``)."""
    own = part.get("components", {}).get("schemas", {})
    title = str(part.get("info", {}).get("title", ""))
    prefix = "".join(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", title)) or "Service"
    renames = {
        name: prefix + name for name, schema in own.items() if taken.get(name, schema) != schema
    }
    if not renames:
        return part
    renamed: dict[str, Any] = _renamed(dict(part), renames)
    schemas = renamed["components"]["schemas"]
    for old, new in renames.items():  # generators name models after the title
        schemas[old] = {**schemas[old], "title": new}
    renamed["components"]["schemas"] = {renames.get(n, n): s for n, s in schemas.items()}
    return renamed


def merge_documents(base: dict[str, Any], parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``base`` with the paths and schemas of ``parts`` added (later parts never overwrite a
    path; a schema of theirs named like another one is renamed, see :func:`_kept_apart`)."""
    merged = {**base, "paths": dict(base.get("paths", {}))}
    components = dict(base.get("components", {}))
    schemas = dict(components.get("schemas", {}))
    for part in parts:
        part = _kept_apart(part, schemas)
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
