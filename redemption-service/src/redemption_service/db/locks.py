"""The per-group advisory lock of docs/redemption.md and the key every holder uses.

The key of a group is PostgreSQL's ``hashtextextended(group, 0)`` computed here, so the
redeem path sends integer keys only (its locks: ``db/ledger.py``, ``lock_and_reserve`` and
``write``) while replicas that still compute the key in SQL lock the very same key. Every
statement that locks a group goes through :func:`group_key`.
"""

from __future__ import annotations

from functools import lru_cache

from coupon_core.db import Connection, mark_session_state

_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = ((a - c) & _MASK) ^ _rot(c, 4)
    c = (c + b) & _MASK
    b = ((b - a) & _MASK) ^ _rot(a, 6)
    a = (a + c) & _MASK
    c = ((c - b) & _MASK) ^ _rot(b, 8)
    b = (b + a) & _MASK
    a = ((a - c) & _MASK) ^ _rot(c, 16)
    c = (c + b) & _MASK
    b = ((b - a) & _MASK) ^ _rot(a, 19)
    a = (a + c) & _MASK
    c = ((c - b) & _MASK) ^ _rot(b, 4)
    b = (b + a) & _MASK
    return a, b, c


def _final(a: int, b: int, c: int) -> tuple[int, int, int]:
    c = ((c ^ b) - _rot(b, 14)) & _MASK
    a = ((a ^ c) - _rot(c, 11)) & _MASK
    b = ((b ^ a) - _rot(a, 25)) & _MASK
    c = ((c ^ b) - _rot(b, 16)) & _MASK
    a = ((a ^ c) - _rot(c, 4)) & _MASK
    b = ((b ^ a) - _rot(a, 14)) & _MASK
    c = ((c ^ b) - _rot(b, 24)) & _MASK
    return a, b, c


@lru_cache(maxsize=4096)
def group_key(group: str) -> int:
    """``hashtextextended(group, 0)``: PostgreSQL's ``hash_bytes_extended`` (Bob Jenkins'
    lookup3, little-endian words) of the UTF-8 text with seed 0, as a signed 64-bit int."""
    data = group.encode()
    a = b = c = (0x9E3779B9 + len(data) + 3923095) & _MASK
    end = len(data) - len(data) % 12
    for i in range(0, end, 12):
        a = (a + int.from_bytes(data[i : i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & _MASK
        a, b, c = _mix(a, b, c)
    tail = data[end:]
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    # The lowest byte of c is left to the length, as in PostgreSQL.
    c = (c + (int.from_bytes(tail[8:11], "little") << 8)) & _MASK
    a, b, c = _final(a, b, c)
    unsigned = (b << 32) | c
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


async def lock_exclusive(conn: Connection, group: str) -> None:
    """Transaction-level exclusive lock: waits for every redeem holding the group shared."""
    await conn.execute("SELECT pg_advisory_xact_lock($1::bigint)", group_key(group))


async def lock_session_shared(conn: Connection, group: str) -> None:
    """Session-level shared lock: release it with :func:`unlock_session_shared`. The
    connection is marked first, so the pool resets it (unlocking all) if that never runs."""
    mark_session_state(conn)
    await conn.execute("SELECT pg_advisory_lock_shared($1::bigint)", group_key(group))


async def unlock_session_shared(conn: Connection, group: str) -> None:
    await conn.execute("SELECT pg_advisory_unlock_shared($1::bigint)", group_key(group))
