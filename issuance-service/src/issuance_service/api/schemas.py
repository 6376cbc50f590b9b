"""Request bodies (pydantic at the edge only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from coupon_core.dates import FIRST_YEAR, LAST_YEAR, in_utc_range
from coupon_core.fields import IsoDatetime, blank_as_none
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

INT32 = 2**31 - 1
Limit = Annotated[int, Field(ge=-1, le=INT32)]
Text = Annotated[str, StringConstraints(max_length=255)]
LongText = Annotated[str, StringConstraints(max_length=2000)]
Identifier = Annotated[str, StringConstraints(max_length=100)]
CodePart = Annotated[str, StringConstraints(max_length=20, pattern=r"^[A-Za-z0-9_-]*$")]


class Body(BaseModel):
    # Strict: no number from a string or a boolean, no boolean from a number (SPEC 7).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class CustomerIn(Body):
    firstName: Text = ""
    lastName: Text = ""
    mobile: Identifier | None = None
    email: Identifier | None = None
    externalId: Identifier | None = None


class CustomerRef(Body):
    id: Annotated[
        Annotated[int, Field(ge=1, le=2**63 - 1)] | None, BeforeValidator(blank_as_none)
    ] = None
    mobile: Identifier | None = None
    email: Identifier | None = None
    externalId: Identifier | None = None


class IssueIn(Body):
    seriesId: Annotated[int, Field(ge=1, le=INT32)]
    customer: CustomerRef


class IssueMultipleIn(IssueIn):
    count: Annotated[int, Field(ge=1, le=500)]


class SeriesIn(Body):
    """Every settable field of a series, with SPEC section 4's defaults."""

    model_config = ConfigDict(extra="ignore")  # a PUT may echo id and the counters back

    description: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    discountCode: Text = ""
    discountType: Literal["ABS", "PERC"]
    discountValue: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
    discountUpto: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] = 0.0
    discountOn: Literal["BILL", "ITEM"] = "BILL"
    detailedInfo: LongText = ""
    validTillDate: IsoDatetime
    validDaysFromCreation: Limit = -1
    maxCreate: Limit = -1
    maxRedeem: Limit = -1
    redemptionPerCouponMaxLimit: Limit = 1
    maxRedemptionsInSeriesPerUser: Limit = -1
    sameUserMultipleRedeem: bool = False
    anyUser: bool = False
    maxVouchersPerUser: Limit = -1
    minDaysBetweenVouchers: Limit = -1
    couponPrefix: CodePart = ""
    couponSuffix: CodePart = ""
    randomCodeLength: Annotated[int, Field(ge=4, le=32)] = 10

    @field_validator("validTillDate")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return in_utc_range(value)
        except ValueError:
            raise ValueError(
                f"validTillDate is out of range (years {FIRST_YEAR} to {LAST_YEAR})"
            ) from None

    @model_validator(mode="after")
    def _percent(self) -> Self:
        if self.discountType == "PERC" and self.discountValue > 100:
            raise ValueError("discountValue of a PERC series is a percentage, 0 to 100")
        return self


# Wire name -> column, for the settable series fields.
SERIES_FIELDS: dict[str, str] = {
    "description": "description",
    "discountCode": "discount_code",
    "discountType": "discount_type",
    "discountValue": "discount_value",
    "discountUpto": "discount_upto",
    "discountOn": "discount_on",
    "detailedInfo": "detailed_info",
    "validTillDate": "valid_till_date",
    "validDaysFromCreation": "valid_days_from_creation",
    "maxCreate": "max_create",
    "maxRedeem": "max_redeem",
    "redemptionPerCouponMaxLimit": "redemption_per_coupon_max_limit",
    "maxRedemptionsInSeriesPerUser": "max_redemptions_in_series_per_user",
    "sameUserMultipleRedeem": "same_user_multiple_redeem",
    "anyUser": "any_user",
    "maxVouchersPerUser": "max_vouchers_per_user",
    "minDaysBetweenVouchers": "min_days_between_vouchers",
    "couponPrefix": "coupon_prefix",
    "couponSuffix": "coupon_suffix",
    "randomCodeLength": "random_code_length",
}
