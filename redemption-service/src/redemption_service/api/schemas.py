"""Request bodies of the redemption API (pydantic at the edge only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

Text = Annotated[str, StringConstraints(max_length=255, strip_whitespace=True)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


def _number_or_numeric_text(value: Any) -> Any:
    # Seed 003 sends its amount as a string ("5000"): accepted; a boolean is not a number.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PydanticCustomError("decimal_type", "Input should be a number or numeric text")
    return value


Amount = Annotated[
    Decimal,
    Field(strict=False, ge=0, le=Decimal("1000000000000"), allow_inf_nan=False, decimal_places=4),
    BeforeValidator(_number_or_numeric_text),
]


class _In(BaseModel):
    # Strict: a boolean is neither a number nor a string (SPEC section 7).
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class CustomerIn(_In):
    mobile: Text | int | None = None
    email: Text | None = None
    external_id: Text | int | None = None
    id: Text | int | None = None


class TransactionIn(_In):
    number: Text | int | None = None
    amount: Amount | None = None


class CustomFieldIn(_In):
    name: Text
    value: Text | int | float | bool | None = None


class CustomFieldsIn(_In):
    field: list[CustomFieldIn] = Field(default_factory=list, max_length=50)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class CouponIn(_In):
    code: Code
    customer: CustomerIn = Field(default_factory=CustomerIn)
    validation_code: Text | None = None
    transaction: list[TransactionIn] = Field(default_factory=list, max_length=10)
    custom_fields: CustomFieldsIn | None = None

    _one_transaction = field_validator("transaction", mode="before")(_as_list)


class RootIn(_In):
    coupon: list[CouponIn] = Field(min_length=1, max_length=50)

    _one_coupon = field_validator("coupon", mode="before")(_as_list)


class RedeemIn(_In):
    root: RootIn


class ReverseIn(_In):
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class ActivateIn(_In):
    code: Code
    notifyUser: bool = False
