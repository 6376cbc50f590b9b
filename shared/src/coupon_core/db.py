"""Database typing shared by every repository."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from coupon_core.errors import ServiceUnavailable

# What ``pool.acquire()`` yields and what ``asyncpg.connect()`` returns, interchangeably.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


class SessionAwareConnection(asyncpg.Connection):
    """A connection that remembers being given session state.

    asyncpg's pool resets every connection it takes back (``pg_advisory_unlock_all()``,
    ``CLOSE ALL``, ``UNLISTEN *``, ``RESET ALL``): one more round trip on every release. A
    pool built with :func:`reset_if_marked` runs that query only on connections marked with
    :func:`mark_session_state`, so code that takes a session-level advisory lock, sets a
    session variable or listens must mark the connection *before* doing so. Transactions need
    no mark: the pool rolls back an open one on release whatever the reset hook.
    """

    _holds_session_state = False

    def mark_session_state(self) -> None:
        self._holds_session_state = True

    def clear_session_state(self) -> None:
        self._holds_session_state = False


def mark_session_state(conn: Connection) -> None:
    """Have the pool reset ``conn`` when it is released (see :class:`SessionAwareConnection`).
    A connection not from such a pool is left alone: it is closed, not reused."""
    mark = getattr(conn, "mark_session_state", None)
    if mark is not None:
        mark()


def clear_session_state(conn: Connection) -> None:
    """Undo :func:`mark_session_state` once the session state it announced is known to be
    gone (the lock released by the code that took it)."""
    clear = getattr(conn, "clear_session_state", None)
    if clear is not None:
        clear()


async def reset_if_marked(conn: asyncpg.Connection) -> None:
    """The pool's ``reset`` hook: the full reset query only for marked connections."""
    if isinstance(conn, SessionAwareConnection) and conn._holds_session_state:
        await conn.execute(conn.get_reset_query())
        conn._holds_session_state = False


class CommitFailed(ServiceUnavailable):
    """The transaction ended in a rollback: nothing was written, a retry may succeed."""

    code = "commit_failed"


async def commit(conn: Connection, what: str) -> None:
    """``COMMIT`` a transaction begun by hand. The server answers ``ROLLBACK`` instead when
    the transaction had failed: :class:`CommitFailed` (503), naming ``what`` was lost."""
    if await conn.execute("COMMIT") != "COMMIT":
        raise CommitFailed(f"The {what} was not recorded; retry.")


async def rollback_if_open(conn: Connection) -> None:
    """End a transaction begun by hand if the connection can still say so; if it cannot
    (broken, or a cancelled query still running) the pool rolls back or drops it on
    release."""
    if conn.is_in_transaction():
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute("ROLLBACK")


def rolled_back(exc: BaseException) -> bool:
    """Whether ``exc`` proves the statement (or ``COMMIT``) it interrupted was rolled back:
    the server answered with an error. A lost connection is not proof: asyncpg reports it as
    :class:`asyncpg.PostgresConnectionError` (a ``PostgresError``) even when the statement
    committed before the answer was lost, and a backend terminated by an operator or a
    shutdown may have committed too. Whatever was taken for such a statement is kept (an
    over-count refuses, never admits) and left to the reconciler."""
    return isinstance(exc, (asyncpg.PostgresError, CommitFailed)) and not isinstance(
        exc, (asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError)
    )


def delta_columns(
    deltas: Mapping[tuple[str, str], int],
) -> tuple[list[str], list[str], list[int]]:
    """``{(group ref, code): sum}`` (``consumer.net_uses``) as three parallel arrays, group
    refs, codes and sums, for one statement's ``unnest``."""
    return [ref for ref, _ in deltas], [code for _, code in deltas], list(deltas.values())
