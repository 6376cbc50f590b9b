"""The Capillary numeric codes issuance answers with (SPEC sections 4 and 7)."""

from __future__ import annotations

from coupon_core.errors import BadRequest, Conflict, NotFound

SERIES_NOT_FOUND = 707
SERIES_EXPIRED = 712
LIMIT_EXCEEDED = 722
CUSTOMER_NOT_FOUND = 701
IDENTIFIER_TAKEN = 409


def series_not_found(series_id: int) -> NotFound:
    return NotFound(f"Coupon series {series_id} does not exist.", numeric_code=SERIES_NOT_FOUND)


def series_expired(series_id: int) -> BadRequest:
    return BadRequest(f"Coupon series {series_id} has expired.", numeric_code=SERIES_EXPIRED)


def limit_exceeded(limit: str, detail: str) -> BadRequest:
    return BadRequest(f"Issual limit exceeded: {limit} ({detail}).", numeric_code=LIMIT_EXCEEDED)


def customer_not_found(detail: str) -> NotFound:
    return NotFound(f"Customer not found: {detail}.", numeric_code=CUSTOMER_NOT_FOUND)


def identifier_taken(identifier: str) -> Conflict:
    return Conflict(
        f"Another customer already has this {identifier}.", numeric_code=IDENTIFIER_TAKEN
    )
