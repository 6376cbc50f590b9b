"""Request parsing and response helpers shared by every handler."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from coupon_core.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1024 * 1024
BIGINT_MAX = 2**63 - 1
NUL = "\x00"
NUL_MESSAGE = "This value must not contain NUL characters."
# In a JSON text a NUL can only be written as this escape (a raw one is malformed JSON).
_NUL_ESCAPE = b"\\u0000"


def bigint(text: str | None) -> int | None:
    """``text`` as a non-negative PostgreSQL ``bigint``, or None when it is not one.
    Only ASCII digits count: ``str.isdigit`` accepts ``"¹"`` and ``"٣"``, which ``int``
    either refuses or reads as a number the client never wrote, and a long enough string
    of digits makes ``int`` raise."""
    if not text or len(text) > 19 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= BIGINT_MAX else None


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def nul_at(value: Any) -> str | None:
    """Where the first NUL in ``value`` (a parsed JSON value: strings and keys at any depth)
    is, as a dotted path (``"body"`` for a top-level string); None when there is none.
    PostgreSQL text cannot hold NUL, so every text input refuses it before it reaches a
    driver. A loop, not recursion: JSON may nest deeper than Python's recursion limit."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return where or "body"
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                path = f"{where}.{key}" if where else key
                if NUL in key:
                    return path.replace(NUL, "\\0")
                pending.append((path, inner))
        elif isinstance(item, list):
            pending.extend(
                (f"{where}.{index}" if where else str(index), inner)
                for index, inner in reversed(list(enumerate(item)))
            )
    return None


def is_json_media_type(request: web.BaseRequest) -> bool:
    """A body is JSON when it says so (``application/json``, ``application/*+json``) or
    says nothing: no Content-Type, or ``application/octet-stream``, which is what a body of
    no declared type is taken to be (RFC 9110, 8.3) and what HTTP libraries label raw bytes
    with. Such a body is read as JSON and must parse as JSON."""
    if "Content-Type" not in request.headers:
        return True
    media_type = request.content_type  # lower case, parameters dropped
    return media_type in ("application/json", "application/octet-stream") or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json(request: web.Request, *, allow_empty: bool = False) -> Any:
    """The request body as JSON: 413 past :data:`MAX_BODY_BYTES`, 415 when it is declared
    as another media type, 400 when it is not JSON or holds a NUL (lone surrogates are
    malformed JSON); each in the family envelope."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes") from None
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("request body is empty; a JSON object is expected")
    if not is_json_media_type(request):
        raise UnsupportedMediaType(
            f"Content-Type {request.content_type} is not accepted: send the body as "
            "application/json."
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON body: {exc}") from None
    if _NUL_ESCAPE in raw:
        where = nul_at(data)
        if where is not None:
            raise ValidationFailed({where: [NUL_MESSAGE]})
    return data


def validation_failed(
    exc: ValidationError, *, form_fields: tuple[str, ...] = ()
) -> ValidationFailed:
    fields: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "body"
        message = err["msg"]
        if err["type"] == "missing":
            message = "This value is required."
        fields.setdefault(loc, []).append(message)
    return ValidationFailed(fields, form_fields=form_fields)


def parse_model(model: type[M], data: Any, *, form_fields: tuple[str, ...] = ()) -> M:
    """Validate ``data`` into ``model``; field errors become :class:`ValidationFailed`."""
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc, form_fields=form_fields) from None


async def parse_body(request: web.Request, model: type[M]) -> M:
    return parse_model(model, await read_json(request))
