"""Capillary item status codes of a redemption (SPEC section 5)."""

from __future__ import annotations

from enum import IntEnum


class ItemStatus(IntEnum):
    OK = 700
    CUSTOMER_NOT_FOUND = 701
    CODE_INVALID = 702
    NOT_ISSUED_TO_CUSTOMER = 703
    NOT_FOR_CUSTOMER = 710
    ALREADY_USED = 711
    GROUP_NOT_ACTIVE = 712
    COUPON_EXPIRED = 713
    GROUP_LIMIT_REACHED = 714
    DUPLICATE_IN_REQUEST = 716
    TRANSACTION_NUMBER_REQUIRED = 718
    CODE_DOES_NOT_EXIST = 719
    CUSTOMER_LIMIT_REACHED = 723
    MIN_AMOUNT_NOT_MET = 724


MESSAGES: dict[ItemStatus, str] = {
    ItemStatus.OK: "Coupon processing successful",
    ItemStatus.CUSTOMER_NOT_FOUND: "Customer not found",
    ItemStatus.CODE_INVALID: "Coupon code is invalid",
    ItemStatus.NOT_ISSUED_TO_CUSTOMER: "Coupon not issued to this customer",
    ItemStatus.NOT_FOR_CUSTOMER: "Coupon is not meant for this customer",
    ItemStatus.ALREADY_USED: "Coupon already used",
    ItemStatus.GROUP_NOT_ACTIVE: "Coupon series or promotion expired or not started",
    ItemStatus.COUPON_EXPIRED: "Coupon expired",
    ItemStatus.GROUP_LIMIT_REACHED: "Maximum redemptions for the series or promotion reached",
    ItemStatus.DUPLICATE_IN_REQUEST: "Same coupon given twice in one request",
    ItemStatus.TRANSACTION_NUMBER_REQUIRED: "Transaction number is required",
    ItemStatus.CODE_DOES_NOT_EXIST: "Coupon code does not exist",
    ItemStatus.CUSTOMER_LIMIT_REACHED: "Redemption limit for this customer reached",
    ItemStatus.MIN_AMOUNT_NOT_MET: "Minimum transaction amount not met",
}

# An item that passed its own checks but was not redeemed because another coupon of the same
# all-or-nothing request failed keeps code 700 with this message and success "false".
NOT_REDEEMED_MESSAGE = "Coupon valid but not redeemed: another coupon in the request failed"


def message(status: ItemStatus) -> str:
    return MESSAGES[status]
