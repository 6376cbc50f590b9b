"""Domain errors: raised anywhere, turned into a response in exactly one place (the middleware)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """An error the caller can act on. ``code`` is the CRM-style snake_case code,
    ``numeric_code`` the Capillary code (defaults to the HTTP status)."""

    status: int = 400
    code: str = "invalid_input"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        numeric_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.numeric_code = numeric_code if numeric_code is not None else self.status
        self.headers = dict(headers or {})


class Refusal(DomainError):
    """A use case ran and said no (a limit reached, a coupon already used): an answer like
    a success, so an Idempotency-Key stores and replays it (coupon_core.idempotency). Other
    errors (bad input, a lookup that finds nothing, a store down) let the key go."""


class BadRequest(DomainError):
    status = 400
    code = "invalid_input"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    status = 410
    code = "gone"


class RequestTimeout(DomainError, TimeoutError):
    """The client did not send the request body within ``BODY_TIMEOUT_S``; the connection
    is closed after this answer. Also a ``TimeoutError``: after a response aiohttp drains
    what is left of an unread body and stops quietly at a timeout (any other error there is
    logged as unhandled)."""

    status = 408
    code = "request_timeout"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Connection": "close"})


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(DomainError):
    """A data store does not answer, or state is being rebuilt: retry shortly."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class UpstreamUnavailable(DomainError):
    status = 502
    code = "upstream_unavailable"


class UpstreamTimeout(DomainError):
    status = 504
    code = "upstream_timeout"


class ValidationFailed(BadRequest):
    """Field-level validation errors. ``form_fields`` lists every field of the form, so that
    the Sylius envelope can show an empty entry for each field without an error."""

    code = "invalid_input"

    def __init__(
        self,
        fields: Mapping[str, Sequence[str]],
        *,
        form_fields: Sequence[str] = (),
        message: str | None = None,
        numeric_code: int | None = None,
    ) -> None:
        self.fields = {name: list(msgs) for name, msgs in fields.items()}
        self.form_fields = list(form_fields)
        summary = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in self.fields.items())
        super().__init__(message or summary or "Validation Failed", numeric_code=numeric_code)
