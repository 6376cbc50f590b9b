"""The request bodies of the Sylius family."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.functional_validators import BeforeValidator
from pydantic_core import PydanticCustomError

from promotion_service.api.forms import Int, Limit, code_value, date_value
from promotion_service.domain.codes import MAX_AFFIX_LENGTH, MAX_RANDOM_LENGTH

Date = Annotated[datetime | None, BeforeValidator(date_value)]
# An integer amount stays an integer (echoed as given), a decimal one a float.
Amount = (
    Annotated[int, Field(strict=True, ge=0, le=10**12)]
    | Annotated[float, Field(strict=True, ge=0, le=1e12, allow_inf_nan=False)]
)
Affix = Annotated[str, Field(max_length=MAX_AFFIX_LENGTH, pattern=r"^[A-Za-z0-9_-]*$")]


class Form(BaseModel):
    # Strict: a boolean is not a number, a string is not a number (SPEC section 7).
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class CouponForm(Form):
    usageLimit: Limit | None = None
    expiresAt: Date = None
    perCustomerUsageLimit: Limit | None = None


class NewCouponForm(CouponForm):
    code: str | None = Field(default=None, validate_default=True)

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: object) -> str:
        if value is not None and not isinstance(value, str):
            raise PydanticCustomError("code", "This value is not valid.")
        return code_value(value, blank="Please enter coupon code.", what="Coupon")


class GenerateForm(Form):
    amount: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None, validate_default=True
    )
    prefix: Affix = ""
    codeLength: Annotated[int, Field(strict=True, ge=1, le=MAX_RANDOM_LENGTH)] = 10
    suffix: Affix = ""
    usageLimit: Limit | None = None
    perCustomerUsageLimit: Limit | None = None
    expiresAt: Date = None

    @field_validator("amount", mode="after")
    @classmethod
    def _amount(cls, value: int | None) -> int:
        if value is None:
            raise PydanticCustomError("blank", "Please enter amount of coupons to generate.")
        return value


class ItemTotalConfig(Form):
    amount: Amount


class NthOrderConfig(Form):
    nth: Annotated[int, Field(strict=True, ge=1, le=1_000_000)]


class ItemTotalRule(Form):
    type: Literal["item_total"]
    configuration: ItemTotalConfig


class NthOrderRule(Form):
    type: Literal["nth_order"]
    configuration: NthOrderConfig


class FixedConfig(Form):
    amount: Amount


class PercentageConfig(Form):
    percentage: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class GrantConfig(Form):
    subscriptionTypeId: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
    subscriptionTypeName: Annotated[str, Field(min_length=1, max_length=255)]
    lengthDays: Annotated[int, Field(strict=True, ge=1, le=36_500)]


class FixedAction(Form):
    type: Literal["order_fixed_discount"]
    configuration: FixedConfig


class PercentageAction(Form):
    type: Literal["order_percentage_discount"]
    configuration: PercentageConfig


class GrantAction(Form):
    type: Literal["grant_subscription"]
    configuration: GrantConfig


Rule = Annotated[ItemTotalRule | NthOrderRule, Field(discriminator="type")]
Action = Annotated[FixedAction | PercentageAction | GrantAction, Field(discriminator="type")]


class PromotionForm(Form):
    """Every field optional: PATCH names some; POST and PUT check the required ones."""

    name: Annotated[str, Field(max_length=255)] | None = None
    code: str | None = None
    description: Annotated[str, Field(max_length=4000)] | None = None
    exclusive: StrictBool | None = None
    usageLimit: Limit | None = None
    startsAt: Date = None
    endsAt: Date = None
    priority: Int | None = None
    couponBased: StrictBool | None = None
    rules: Annotated[list[Rule], Field(max_length=50)] | None = None
    actions: Annotated[list[Action], Field(max_length=50)] | None = None
    channels: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None
    ) = None

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("code", "This value is not valid.")
        return code_value(value, blank="Please enter promotion code.", what="Promotion")
