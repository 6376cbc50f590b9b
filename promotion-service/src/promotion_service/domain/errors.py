"""The Sylius forms and their validation errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from coupon_core.errors import NotFound, ValidationFailed

COUPON_FORM = ("usageLimit", "expiresAt", "perCustomerUsageLimit", "code")
PROMOTION_FORM = (
    "name",
    "code",
    "description",
    "exclusive",
    "usageLimit",
    "startsAt",
    "endsAt",
    "priority",
    "couponBased",
    "rules",
    "actions",
    "channels",
)
GENERATE_FORM = (
    "amount",
    "prefix",
    "codeLength",
    "suffix",
    "usageLimit",
    "perCustomerUsageLimit",
    "expiresAt",
)

COUPON_CODE_TAKEN = "This coupon already exists."
PROMOTION_CODE_TAKEN = "The promotion with given code already exists."


def invalid(form: Sequence[str], fields: Mapping[str, Sequence[str]]) -> ValidationFailed:
    return ValidationFailed(fields, form_fields=form)


def coupon_code_taken() -> ValidationFailed:
    return invalid(COUPON_FORM, {"code": [COUPON_CODE_TAKEN]})


def promotion_code_taken() -> ValidationFailed:
    return invalid(PROMOTION_FORM, {"code": [PROMOTION_CODE_TAKEN]})


def promotion_not_found(code: str) -> NotFound:
    return NotFound(f'Promotion with code "{code}" has not been found.')


def coupon_not_found(code: str) -> NotFound:
    return NotFound(f'Promotion coupon with code "{code}" has not been found.')


def job_not_found(job_id: str) -> NotFound:
    return NotFound(f'Generation job "{job_id}" has not been found.')
