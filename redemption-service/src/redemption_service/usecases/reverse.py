"""Reversal: the ledger first, then the counters, under the group's shared lock throughout."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
from coupon_core.db import Connection
from coupon_core.errors import Gone, NotFound
from redis.exceptions import RedisError

from redemption_service.db import ledger, locks
from redemption_service.db.counters import Counters
from redemption_service.domain.models import Redemption

OnCommit = Callable[[Connection, Redemption], Awaitable[None]]
DEADLOCK_ATTEMPTS = 3


async def reverse(
    pool: asyncpg.Pool,
    counters: Counters,
    redemption_id: int,
    *,
    reason: str | None,
    on_commit: OnCommit | None = None,
    online_months: int = 0,
) -> Redemption:
    """Reverse once; reversing again answers the first reversal. A session-level shared lock
    on the group spans the commit *and* the give-back, so a rebuild (which reads reversals
    from the ledger) cannot run between them and count the reversal twice.

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
            for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
                try:
                    first, result = await _reverse_row(
                        conn, found, reason, on_commit, online_months
                    )
                    break
                except asyncpg.DeadlockDetectedError:
                    # Only with the archive of its month, which gives up or has detached
                    # it by the next attempt (its lock_timeout is shorter than PostgreSQL's
                    # deadlock_timeout, so this side rarely loses).
                    if attempt == DEADLOCK_ATTEMPTS:
                        raise
            if first:
                # If this fails the counter stays high (safe); the reconciler repairs it.
                with contextlib.suppress(RedisError, OSError):
                    await counters.release(result.group_ref, [(result.code, result.customer_id)])
        finally:
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await locks.unlock_session_shared(conn, found.group_ref)
    return result


async def _reverse_row(
    conn: Connection,
    found: Redemption,
    reason: str | None,
    on_commit: OnCommit | None,
    online_months: int,
) -> tuple[bool, Redemption]:
    """In one transaction: refuse a month past ``online_months``, lock the row, reverse it
    unless it is already; whether this reversed it, and the row."""
    async with conn.transaction():
        since = await ledger.online_since(conn, online_months)
        if since is not None and found.redeemed_at < since:
            raise _archived(found.id)
        current = await ledger.get(conn, found.id, redeemed_at=found.redeemed_at, for_update=True)
        if current is None:  # its month was archived since the first read
            raise _archived(found.id)
        first = current.reversed_at is None
        result = await ledger.reverse(conn, current, reason) if first else current
        if on_commit is not None:
            await on_commit(conn, result)
    return first, result


def _archived(redemption_id: int) -> Gone:
    return Gone(
        f"Redemption {redemption_id} is in an archived month of the ledger and can no "
        "longer be reversed.",
        code="redemption_archived",
    )
