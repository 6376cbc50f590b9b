"""The query parameters of redeem and the dry runs, as the API document describes them
(the handlers in :mod:`redemption_service.api.redeem` read them), and those of the admin
reads, which the handlers parse with them (:func:`parse_query`)."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from aiohttp import web
from coupon_core.dates import in_utc_range
from coupon_core.fields import IsoDatetime
from coupon_core.http import BIGINT_MAX, parse_model
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from redemption_service.settings import STATS_MAX_DAYS

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Identifier = str | None


class RedeemQuery(BaseModel):
    mode: Literal["all", "partial"] = Field(
        default="all", description="all: nothing is redeemed if any coupon fails."
    )


class _DryRun(BaseModel):
    mobile: Identifier = Field(default=None, max_length=255)
    email: Identifier = Field(default=None, max_length=255)
    id: Identifier = Field(default=None, max_length=255)
    amount: str | None = Field(
        default=None, max_length=40, description="The transaction amount: decimal text."
    )
    transaction_number: str | None = Field(default=None, max_length=255)


class IsRedeemableQuery(_DryRun):
    code: str = Field(min_length=1, max_length=64, description="One coupon code.")
    external_id: Identifier = Field(default=None, max_length=255)


class IsRedeemableV2Query(_DryRun):
    code: str = Field(min_length=1, description="Coupon codes, comma separated (at most 50).")
    externalId: Identifier = Field(default=None, max_length=255)


# The admin reads (api/ledger_reads.py, api/subscriptions.py): query values are text, an
# empty one is a value not given (a form's empty field), and a name not listed is refused.
class _AdminQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Deep pages cost their offset: no listing is read past page 10,000 (narrow it instead).
MAX_PAGE = 10_000
Page = Annotated[int, Field(ge=1, le=MAX_PAGE, description="The page, from 1 to 10,000.")]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Items per page (at most 100).")]
When = Annotated[IsoDatetime, AfterValidator(in_utc_range)]
Text = Annotated[str, Field(max_length=255)]


class RedemptionSearchQuery(_AdminQuery):
    """Every filter given must hold; newest first."""

    id: int | None = Field(default=None, ge=1, le=BIGINT_MAX, description="A redemption id.")
    code: str | None = Field(default=None, max_length=64)
    customerId: Text | None = None
    mobile: Text | None = Field(default=None, description="The customer, by mobile.")
    email: Text | None = Field(default=None, description="The customer, by email.")
    externalId: Text | None = Field(default=None, description="The customer, by external id.")
    transactionNumber: Text | None = None
    promotionCode: Text | None = None
    seriesId: int | None = Field(default=None, ge=1, le=2**31 - 1)
    since: When | None = Field(default=None, description="Redeemed at or after (ISO 8601).")
    until: When | None = Field(default=None, description="Redeemed before (ISO 8601).")
    page: Page = 1
    limit: Limit = DEFAULT_LIMIT


class StatsQuery(_AdminQuery):
    hours: int = Field(default=48, ge=1, le=168, description="Hourly buckets, the last one now.")
    days: int = Field(default=30, ge=1, le=STATS_MAX_DAYS, description="Daily buckets.")


class SubscriptionsQuery(_AdminQuery):
    """userId or email is required (both: each must hold)."""

    userId: Text | None = Field(default=None, description="The user's id (gateway users).")
    email: Text | None = Field(default=None, description="The user's email at activation.")
    page: Page = 1
    limit: Limit = DEFAULT_LIMIT


M = TypeVar("M", bound=BaseModel)


def parse_query(model: type[M], request: web.Request) -> M:
    """The request's query as ``model``, each value stripped: an empty one is left out (a
    value not given); a bad one is a 400 naming its parameter."""
    given = {name: value.strip() for name, value in request.query.items() if value.strip()}
    return parse_model(model, given)
