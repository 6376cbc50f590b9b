"""The Capillary numeric codes issuance answers with (SPEC sections 4 and 7)."""

from __future__ import annotations

from coupon_core.errors import BadRequest, Conflict, NotFound, Refusal

SERIES_NOT_FOUND = 707
SERIES_EXPIRED = 712
LIMIT_EXCEEDED = 722
CUSTOMER_NOT_FOUND = 701
IDENTIFIER_TAKEN = 409


def series_not_found(series_id: int) -> NotFound:
    return NotFound(f"Coupon series {series_id} does not exist.", numeric_code=SERIES_NOT_FOUND)


def series_expired(series_id: int) -> BadRequest:
    return BadRequest(f"Coupon series {series_id} has expired.", numeric_code=SERIES_EXPIRED)


class LimitExceeded(BadRequest, Refusal):
    """722: a series limit would be exceeded; ``limit`` names it (a metric label). A refusal:
    an Idempotency-Key replays it."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"Issual limit exceeded: {limit} ({detail}).", numeric_code=LIMIT_EXCEEDED)
        self.limit = limit


def limit_exceeded(limit: str, detail: str) -> BadRequest:
    return LimitExceeded(limit, detail)


def customer_not_found(detail: str) -> NotFound:
    return NotFound(f"Customer not found: {detail}.", numeric_code=CUSTOMER_NOT_FOUND)


def identifier_taken(identifier: str) -> Conflict:
    return Conflict(
        f"Another customer already has this {identifier}.", numeric_code=IDENTIFIER_TAKEN
    )
