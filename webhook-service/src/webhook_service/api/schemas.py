"""Request bodies and query parameters of the webhook API (pydantic at the edge only)."""

from __future__ import annotations

from typing import Annotated, Literal

from coupon_core.dates import in_utc_range
from coupon_core.fields import IsoDatetime
from coupon_core.http import BIGINT_MAX
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from yarl import URL

from webhook_service.domain import catalogue

URL_MAX_CHARS = 2048
DESCRIPTION_MAX_CHARS = 500
PAGE_MAX = 1000
PAGE_DEFAULT = 100
GRACE_MAX_H = 24 * 7


def _url(value: str) -> str:
    # Whether it may be called (scheme, host, addresses) is domain.addresses' to say.
    if not value.isprintable() or any(ch.isspace() for ch in value):
        raise ValueError("a URL must not contain spaces or control characters")
    try:
        url = URL(value)  # a bad port or IPv6 literal raises here
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if not url.scheme or not url.host:
        raise ValueError("an absolute URL is expected, such as https://example.com/hooks")
    return value


def _description(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


def _events(value: list[str]) -> list[str]:
    return catalogue.subscription(value)


Url = Annotated[str, Field(min_length=1, max_length=URL_MAX_CHARS), AfterValidator(_url)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX_CHARS), AfterValidator(_description)]
EVENT_TYPE_MAX_CHARS = 100
Events = Annotated[
    list[Annotated[str, Field(max_length=EVENT_TYPE_MAX_CHARS)]],
    Field(
        min_length=1,
        max_length=50,
        description='Event types to receive, or ["*"] for every type (now and later).',
    ),
    AfterValidator(_events),
]
Since = Annotated[IsoDatetime, AfterValidator(in_utc_range)]


class _Body(BaseModel):
    # Strict: a string is not a boolean, a number is not a string (SPEC section 7).
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateWebhook(_Body):
    url: Url
    events: Events
    description: Description = ""
    enabled: bool = True


class UpdateWebhook(_Body):
    """The fields to change; those left out (or null) stay as they are."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = Field(
        default=None,
        description="true re-enables a disabled endpoint (its failure streak starts afresh).",
    )

    @model_validator(mode="after")
    def _something(self) -> UpdateWebhook:
        if all(value is None for value in (self.url, self.events, self.description, self.enabled)):
            raise ValueError("give at least one of url, events, description, enabled")
        return self


class RotateSecret(_Body):
    graceHours: int | None = Field(
        default=None,
        ge=0,
        le=GRACE_MAX_H,
        description="How long the current secret stays valid too; WEBHOOK_SECRET_GRACE_H "
        "by default, 0 to retire it at once.",
    )


class Redeliver(_Body):
    """One event (eventId), or every delivery since a time (since, with status: failed by
    default)."""

    eventId: str | None = Field(default=None, min_length=1, max_length=200)
    since: Since | None = None
    status: Literal["failed", "delivered", "pending"] | None = None

    @model_validator(mode="after")
    def _one(self) -> Redeliver:
        if (self.eventId is None) == (self.since is None):
            raise ValueError("give either eventId or since")
        if self.eventId is not None and self.status is not None:
            raise ValueError("status goes with since, not with eventId")
        return self


class _Query(BaseModel):
    # Query values are text: numbers are read from it, nothing else is coerced.
    model_config = ConfigDict(extra="forbid")


Limit = Annotated[int, Field(ge=1, le=PAGE_MAX, description="At most this many, 100 by default.")]
Before = Annotated[
    int,
    Field(ge=1, le=BIGINT_MAX, description="Only those with a smaller id (the next page)."),
]


class WebhookListQuery(_Query):
    after: int = Field(default=0, ge=0, le=BIGINT_MAX, description="List those after this id.")
    limit: Limit = PAGE_DEFAULT


class DeliveriesQuery(_Query):
    status: Literal["pending", "delivered", "failed"] | None = None
    limit: Limit = PAGE_DEFAULT
    before: Before | None = None


class AttemptsQuery(_Query):
    since: Since | None = Field(default=None, description="Attempts made at or after (ISO 8601).")
    outcome: Literal["delivered", "http_error", "timeout", "refused", "network_error"] | None = None
    limit: Limit = PAGE_DEFAULT
    before: Before | None = None
