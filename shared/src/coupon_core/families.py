"""The URL families and their error envelopes (SPEC section 7)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from coupon_core.errors import DomainError, ValidationFailed

_SLASHES = re.compile("/{2,}")


class Family(StrEnum):
    SYLIUS = "sylius"
    CRM = "crm"
    CAPILLARY_V11 = "capillary_v1.1"
    CAPILLARY_V2 = "capillary_v2"
    PLAIN = "plain"


def family_for_path(path: str) -> Family:
    if "//" in path:  # refused with 404, in the envelope of the path it resembles
        path = _SLASHES.sub("/", path)
    if path.startswith("/api/v1/promotions"):
        return Family.SYLIUS
    if path.startswith("/api/v1/"):
        return Family.CRM
    if path.startswith("/v1.1/"):
        return Family.CAPILLARY_V11
    if path.startswith("/v2/"):
        return Family.CAPILLARY_V2
    return Family.PLAIN


def _sylius_children(err: ValidationFailed) -> dict[str, Any]:
    children: dict[str, Any] = {name: {} for name in err.form_fields}
    for name, messages in err.fields.items():
        children[name] = {"errors": messages}
    return children


def error_body(family: Family, err: DomainError) -> dict[str, Any]:
    """The body of an error response in the envelope of ``family``."""
    if family is Family.SYLIUS:
        if isinstance(err, ValidationFailed):
            return {
                "code": 400,
                "message": "Validation Failed",
                "errors": {"children": _sylius_children(err)},
            }
        if err.status == 401:
            return {"error": "access_denied", "error_description": err.message}
        return {"code": err.status, "message": err.message}
    if family is Family.CRM:
        return {"status": "error", "message": err.message, "code": err.code}
    if family is Family.CAPILLARY_V11:
        return {
            "response": {
                "status": {"success": "false", "code": err.numeric_code, "message": err.message}
            }
        }
    if family is Family.CAPILLARY_V2:
        return {"errors": [{"code": err.numeric_code, "message": err.message}], "warnings": []}
    return {"error": err.code, "message": err.message}
