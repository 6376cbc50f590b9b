"""Parsing request bodies into the Sylius forms, with Sylius-style field errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Annotated, Any, TypeVar

from aiohttp import web
from coupon_core.errors import BadRequest, ValidationFailed
from coupon_core.http import read_json
from pydantic import BaseModel, Field, Strict, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from promotion_service.domain.codes import CODE_RE, MAX_CODE_LENGTH
from promotion_service.domain.times import parse_date

M = TypeVar("M", bound=BaseModel)

INT32_MAX = 2**31 - 1
Int = Annotated[int, Strict(), Field(ge=-INT32_MAX, le=INT32_MAX)]
Limit = Annotated[int, Strict(), Field(ge=1, le=INT32_MAX)]
NOT_VALID = "This value is not valid."

_MESSAGES = {
    "greater_than_equal": "This value should be greater than or equal to {ge}.",
    "greater_than": "This value should be greater than {gt}.",
    "less_than_equal": "This value should be less than or equal to {le}.",
    "string_too_long": "This value is too long. It should have {max_length} characters or less.",
    "string_too_short": "This value is too short. It should have {min_length} characters or more.",
    "too_long": "This collection should contain {max_length} elements or less.",
    "missing": "This value should not be blank.",
}


def date_value(value: Any, info: ValidationInfo) -> datetime | None:
    """``YYYY-MM-DD`` or ISO 8601; read in the service's zone (from the context)."""
    if value is None:
        return None
    zone: tzinfo = (info.context or {})["zone"]
    if not isinstance(value, str) or len(value) > 40:
        raise PydanticCustomError("date", NOT_VALID)
    try:
        return parse_date(value, zone)
    except ValueError:
        raise PydanticCustomError("date", NOT_VALID) from None


def code_value(value: str | None, *, blank: str, what: str) -> str:
    if value is None or not value.strip():
        raise PydanticCustomError("blank", blank)
    if len(value) > MAX_CODE_LENGTH:
        raise PydanticCustomError(
            "code_length", f"{what} code must not be longer than {MAX_CODE_LENGTH} characters."
        )
    if not CODE_RE.match(value):
        raise PydanticCustomError(
            "code_pattern",
            f"{what} code can only be comprised of letters, numbers, dashes and underscores.",
        )
    return value


def _message(err: Any) -> str:
    template = _MESSAGES.get(err["type"])
    if template is not None:
        try:
            return template.format(**(err.get("ctx") or {}))
        except (KeyError, IndexError):
            return str(err["msg"])
    if err["type"].endswith(("_type", "_parsing", "literal_error", "union_tag_invalid")):
        return NOT_VALID
    return str(err["msg"])


def failed(exc: ValidationError, form: Sequence[str]) -> ValidationFailed:
    fields: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        name = str(err["loc"][0]) if err["loc"] else "form"
        message = _message(err)
        if message not in fields.setdefault(name, []):
            fields[name].append(message)
    return ValidationFailed(fields, form_fields=form)


async def parse_form(
    request: web.Request, model: type[M], form: Sequence[str], *, zone: tzinfo
) -> M:
    """The body (an empty body is an empty form) validated into ``model``."""
    data = await read_json(request, allow_empty=True)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(data, context={"zone": zone})
    except ValidationError as exc:
        raise failed(exc, form) from None
