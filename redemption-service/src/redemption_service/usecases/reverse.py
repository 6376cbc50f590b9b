"""Reversal: the ledger first, then the counters, under the group's shared lock throughout."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from coupon_core import idempotency
from coupon_core.db import Connection, rollback_if_open
from coupon_core.errors import Gone, NotFound
from redis.exceptions import RedisError

from redemption_service.db import ledger, locks
from redemption_service.db.counters import Counters
from redemption_service.domain.models import Redemption

DEADLOCK_ATTEMPTS = 3


class Reversal(idempotency.Uncommitted):
    """The redemption reversed (or found reversed already: ``first`` False) in a transaction
    still open: the typed result the answer is rendered from before :meth:`commit` commits
    it with the answer."""

    what = "reversal"

    def __init__(self, conn: Connection, redemption: Redemption, *, first: bool) -> None:
        super().__init__(conn)
        self.redemption = redemption
        self.first = first


@contextlib.asynccontextmanager
async def reverse(
    pool: asyncpg.Pool,
    counters: Counters,
    redemption_id: int,
    *,
    reason: str | None,
    online_months: int = 0,
) -> AsyncIterator[Reversal]:
    """Reverse once; reversing again answers the first reversal. The block renders the
    answer from :attr:`Reversal.redemption` and calls :meth:`Reversal.commit`; leaving it
    any other way rolls back. A session-level shared lock on the group spans the commit
    *and* the give-back, so a rebuild (which reads reversals from the ledger) cannot run
    between them and count the reversal twice.

    With ``online_months`` (LEDGER_ONLINE_MONTHS) set, a redemption of a month past it is
    refused, archived or not yet: its month may be rolled up at any moment. The check and
    the update share one transaction, and the archive waits for the writers of the month it
    rolls up (workers/ledger_upkeep.py), so a reversal is either in the rollup or refused."""
    async with pool.acquire() as conn:
        found = await ledger.get(conn, redemption_id)
        if found is None:
            if await ledger.archived(conn, redemption_id):
                raise _archived(redemption_id)
            raise NotFound(
                f"Redemption {redemption_id} does not exist.", code="redemption_not_found"
            )
        await locks.lock_session_shared(conn, found.group_ref)
        try:
            reversal = await _reverse_row(conn, found, reason, online_months)
            async with idempotency.until_committed(reversal):
                yield reversal
            if reversal.first:
                result = reversal.redemption
                # If this fails the counter stays high (safe); the reconciler repairs it.
                with contextlib.suppress(RedisError, OSError):
                    await counters.release(result.group_ref, [(result.code, result.customer_id)])
        finally:
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await locks.unlock_session_shared(conn, found.group_ref)


async def _reverse_row(
    conn: Connection, found: Redemption, reason: str | None, online_months: int
) -> Reversal:
    """:func:`_reverse_row_once`, tried again when PostgreSQL picks it as a deadlock victim:
    only with the archive of its month, which gives up or has detached it by the next
    attempt (its lock_timeout is shorter than PostgreSQL's deadlock_timeout, so this side
    rarely loses)."""
    for _ in range(DEADLOCK_ATTEMPTS - 1):
        with contextlib.suppress(asyncpg.DeadlockDetectedError):
            return await _reverse_row_once(conn, found, reason, online_months)
    return await _reverse_row_once(conn, found, reason, online_months)


async def _reverse_row_once(
    conn: Connection, found: Redemption, reason: str | None, online_months: int
) -> Reversal:
    """In a transaction left open: refuse a month past ``online_months``, lock the row,
    reverse it unless it is already; rolled back if any of it fails."""
    await conn.execute("BEGIN")
    try:
        since = await ledger.online_since(conn, online_months)
        if since is not None and found.redeemed_at < since:
            raise _archived(found.id)
        current = await ledger.get(conn, found.id, redeemed_at=found.redeemed_at, for_update=True)
        if current is None:  # its month was archived since the first read
            raise _archived(found.id)
        first = current.reversed_at is None
        result = await ledger.reverse(conn, current, reason) if first else current
    except BaseException:
        await rollback_if_open(conn)
        raise
    return Reversal(conn, result, first=first)


def _archived(redemption_id: int) -> Gone:
    return Gone(
        f"Redemption {redemption_id} is in an archived month of the ledger and can no "
        "longer be reversed.",
        code="redemption_archived",
    )
