"""Request parsing and response helpers shared by every handler."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from coupon_core.errors import BadRequest, PayloadTooLarge, ValidationFailed

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1024 * 1024
BIGINT_MAX = 2**63 - 1


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


async def read_json(request: web.Request, *, allow_empty: bool = False) -> Any:
    """The request body as JSON; 400 in the family envelope when it is not JSON."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body larger than {MAX_BODY_BYTES} bytes") from None
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("request body is empty; a JSON object is expected")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON body: {exc}") from None


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
