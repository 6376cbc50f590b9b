"""The URL families and their error envelopes (SPEC section 7)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from coupon_core.errors import DomainError, ValidationFailed
from coupon_core.responses import Omitted, ResponseModel

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
    if path.startswith("/api/v1/promotions") or path.rstrip("/") == "/api/v1/promotion-stats":
        return Family.SYLIUS
    if path.startswith("/api/v1/"):
        return Family.CRM
    if path.startswith("/v1.1/"):
        return Family.CAPILLARY_V11
    if path.startswith("/v2/"):
        return Family.CAPILLARY_V2
    return Family.PLAIN


class SyliusFieldErrors(ResponseModel):
    errors: Omitted[list[str]] = None


class SyliusChildren(ResponseModel):
    children: dict[str, SyliusFieldErrors]


class SyliusValidationFailed(ResponseModel):
    """Validation Failed: each field of the form, with the errors of those that have any."""

    code: int
    message: str
    errors: SyliusChildren


class SyliusError(ResponseModel):
    """A Sylius error: the HTTP status and what went wrong."""

    code: int
    message: str


class SyliusAccessDenied(ResponseModel):
    """No usable credentials (OAuth style, as Sylius answers 401)."""

    error: Literal["access_denied"]
    error_description: str


class CrmError(ResponseModel):
    """A CRM error: ``code`` is a snake_case reason a client can act on."""

    status: Literal["error"]
    message: str
    code: str


class CapillaryStatus(ResponseModel):
    success: Literal["true", "false"]
    code: int
    message: str


class CapillaryV11Failure(ResponseModel):
    status: CapillaryStatus


class CapillaryV11Error(ResponseModel):
    """A Capillary v1.1 error: the overall status, with the HTTP or 5xx/7xx code."""

    response: CapillaryV11Failure


class CapillaryV2Message(ResponseModel):
    code: int
    message: str


class CapillaryV2Error(ResponseModel):
    """A Capillary v2 error: errors[] with a numeric code each, and warnings."""

    errors: list[CapillaryV2Message]
    warnings: list[str]


class PlainError(ResponseModel):
    """An error outside the API families."""

    error: str
    message: str


def error_models(family: Family, status: int | None = None) -> tuple[type[ResponseModel], ...]:
    """The bodies an error answer of ``status`` (None: of any status) may have in ``family``,
    as :func:`error_body` builds them."""
    if family is Family.SYLIUS:
        if status == 400:
            return (SyliusValidationFailed, SyliusError)
        if status == 401:
            return (SyliusAccessDenied,)
        if status is None:
            return (SyliusValidationFailed, SyliusAccessDenied, SyliusError)
        return (SyliusError,)
    envelopes: dict[Family, type[ResponseModel]] = {
        Family.CRM: CrmError,
        Family.CAPILLARY_V11: CapillaryV11Error,
        Family.CAPILLARY_V2: CapillaryV2Error,
        Family.PLAIN: PlainError,
    }
    return (envelopes[family],)


def _sylius_children(err: ValidationFailed) -> dict[str, SyliusFieldErrors]:
    children = {name: SyliusFieldErrors() for name in err.form_fields}
    for name, messages in err.fields.items():
        children[name] = SyliusFieldErrors(errors=messages)
    return children


def _error(family: Family, err: DomainError) -> ResponseModel:
    if family is Family.SYLIUS:
        if isinstance(err, ValidationFailed):
            return SyliusValidationFailed(
                code=400,
                message="Validation Failed",
                errors=SyliusChildren(children=_sylius_children(err)),
            )
        if err.status == 401:
            return SyliusAccessDenied(error="access_denied", error_description=err.message)
        return SyliusError(code=err.status, message=err.message)
    if family is Family.CRM:
        return CrmError(status="error", message=err.message, code=err.code)
    if family is Family.CAPILLARY_V11:
        status = CapillaryStatus(success="false", code=err.numeric_code, message=err.message)
        return CapillaryV11Error(response=CapillaryV11Failure(status=status))
    if family is Family.CAPILLARY_V2:
        message = CapillaryV2Message(code=err.numeric_code, message=err.message)
        return CapillaryV2Error(errors=[message], warnings=[])
    return PlainError(error=err.code, message=err.message)


def error_body(family: Family, err: DomainError) -> dict[str, Any]:
    """The body of an error response in the envelope of ``family``."""
    return _error(family, err).body()
