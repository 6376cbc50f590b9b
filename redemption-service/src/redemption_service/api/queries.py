"""The query parameters of redeem and the dry runs, as the API document describes them
(the handlers in :mod:`redemption_service.api.redeem` read them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
