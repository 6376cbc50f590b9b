"""Searching the ledger (docs/redemption.md, "Search the ledger"): a customer named by
mobile, email or external id is resolved as a redeem resolves it, through the customer
index the issuance service publishes, since the ledger records the customer's id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import asyncpg
from coupon_core import customers
from coupon_core.errors import Gone, NotFound
from coupon_core.redis_keys import CustomerIdentifier
from redis.asyncio import Redis

from redemption_service.db import ledger, search
from redemption_service.domain.models import Redemption, SearchFilters

# The deepest a page may reach (page x limit): a search pages with OFFSET, whose cost
# grows with it; since/until narrow a search further back.
MAX_DEPTH = 10_000


class Page(NamedTuple):
    found: list[Redemption]
    more: bool  # whether the next page has redemptions


async def customer_id(
    redis: Redis, customer_id: str | None, identifiers: Mapping[CustomerIdentifier, str]
) -> str | None:
    """The one customer id ``customer_id`` and ``identifiers`` all name; "" when they name
    none (an unknown identifier, or two customers); None when none is given."""
    ids = {customer_id} if customer_id is not None else set()
    for identifier, value in identifiers.items():
        ids.add(await customers.resolve(redis, identifier, value) or "")
    if not ids:
        return None
    return ids.pop() if len(ids) == 1 else ""


async def find(pool: asyncpg.Pool, filters: SearchFilters, *, page: int, limit: int) -> Page:
    """The ``page``-th ``limit`` redemptions matching ``filters``, newest first. A customer
    id of "" names no customer: nothing matches."""
    if filters.customer_id == "":
        return Page([], more=False)
    async with pool.acquire() as conn:
        rows = await search.find(conn, filters, offset=(page - 1) * limit, limit=limit + 1)
    return Page(rows[:limit], more=len(rows) > limit)


def not_found(text: str) -> NotFound:
    return NotFound(f"Redemption {text} does not exist.", code="redemption_not_found")


async def one(pool: asyncpg.Pool, redemption_id: int) -> Redemption:
    """The redemption of an attached month; 404 when there is none, 410 when its month
    is archived (LEDGER_ONLINE_MONTHS: its row is in a detached table)."""
    async with pool.acquire() as conn:
        found = await ledger.get(conn, redemption_id)
        if found is None and await ledger.archived(conn, redemption_id):
            raise Gone(
                f"Redemption {redemption_id} is in an archived month of the ledger.",
                code="redemption_archived",
            )
    if found is None:
        raise not_found(str(redemption_id))
    return found
