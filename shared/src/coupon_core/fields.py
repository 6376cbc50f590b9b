"""Field types of request bodies (SPEC section 7). Bodies are validated strictly (a boolean
is not a number, a string is not a number, a number is not a boolean); these are the types
that need more than ``strict=True`` says, and the seeds' habits that are accepted."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError


def blank_as_none(value: object) -> object:
    """An empty (or blank) string is a value not given: seed 002 sends every identifier it
    does not use as ``""``, whatever the identifier's type."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _date_text(value: object) -> object:
    # Left to itself pydantic reads a number, or a string holding one, as Unix time.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
    raise PydanticCustomError(
        "date_text", "Input should be an ISO 8601 date or date and time, as text"
    )


# ISO 8601 text only (``2030-01-01`` or ``2030-01-01T00:00:00+02:00``), never a number.
IsoDatetime = Annotated[datetime, Field(strict=False), BeforeValidator(_date_text)]
