"""COPY plumbing of the bench's seeding (bench/seed.py): rows generated line by line as
COPY text, streamed in chunks, then sequences and statistics brought up to date."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import asyncpg

YEAR_S = 365 * 86400
CHUNK = 10_000  # rows per COPY data message


class Clock:
    """``redeemed_at`` of ledger row ``i``: the last 365 days, in id order, as COPY text."""

    def __init__(self, rows: int, now: float) -> None:
        self.start = now - YEAR_S
        self.step = YEAR_S / max(1, rows)
        self._minutes: dict[int, str] = {}

    def at(self, i: int) -> str:
        second = int(self.start + i * self.step)
        minute = second // 60
        prefix = self._minutes.get(minute)
        if prefix is None:
            prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%d %H:%M:")
            self._minutes[minute] = prefix
        return f"{prefix}{second % 60:02d}+00"

    def iso(self, text: str) -> str:
        return text[:10] + "T" + text[11:19] + "+00:00"


async def chunks(count: int, line: Callable[[int], str]) -> AsyncIterator[bytes]:
    for start in range(0, count, CHUNK):
        yield "".join(line(i) for i in range(start, min(count, start + CHUNK))).encode()
        await asyncio.sleep(0)  # the event loop serves the COPY between chunks


async def copy_rows(
    conn: asyncpg.Connection,
    table: str,
    columns: list[str],
    count: int,
    line: Callable[[int], str],
    rows: dict[str, int],
) -> None:
    started = time.monotonic()
    await conn.copy_to_table(table, source=chunks(count, line), columns=columns, format="text")
    rows[table] = count
    print(f"  {table}: {count:,} rows, {count / (time.monotonic() - started):,.0f} rows/s")


async def finish_tables(conn: asyncpg.Connection, tables: list[str]) -> None:
    """Sequences past the ids written, then VACUUM ANALYZE as autovacuum would have."""
    for table in tables:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    for table in tables:
        await conn.execute(f"VACUUM (ANALYZE) {table}")
