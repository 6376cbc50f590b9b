"""The base of every response body model: a view builds one and sends :meth:`ResponseModel.body`,
and the API document describes the same model (``Doc(responses={200: Model})``), so what a
generated client parses is what the service sends.

Every field is sent, defaults included, so the document marks each one required; a field
declared :data:`Omitted` is left out when it is None (Sylius leaves out null fields, and a
redeem echoes only the identifiers given) and is optional, never null, in the document.
Unknown fields are refused (``additionalProperties: false``): a view cannot send a field the
document does not declare.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

T = TypeVar("T")


def _is_none(value: object) -> bool:
    return value is None


class _NeverNull:
    """The document's schema of an omitted field: its type, without the null it never sends."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        branches = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
        if "anyOf" in schema and len(branches) == 1:
            rest = {key: value for key, value in schema.items() if key != "anyOf"}
            return {**branches[0], **rest}
        return schema


def _without_null_default(schema: dict[str, Any]) -> None:
    if "default" in schema and schema["default"] is None:
        del schema["default"]


Omitted = Annotated[
    T | None,
    Field(exclude_if=_is_none, json_schema_extra=_without_null_default),
    _NeverNull(),
]


class ResponseModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        json_schema_serialization_defaults_required=True,
    )

    def body(self) -> dict[str, Any]:
        """The JSON body: field order is declaration order, as the seeds show it."""
        return self.model_dump(mode="json")
