"""The embedded PostgreSQL and its lock file (``postmaster.pid``): a server's lock file is
never taken from it; only one whose process is gone may be cleared."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from coupon_dev.embedded import EmbeddedPostgres, EmbeddedServerError


@pytest.fixture
def data_root() -> Iterator[Path]:
    """Not under ``tmp_path``: every pytest run that starts sets pytest's own root back to
    0700, which an unprivileged server (under root) could no longer walk through."""
    with tempfile.TemporaryDirectory(prefix="coupon-embedded-") as tmp:
        yield Path(tmp)


async def _answers(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval("SELECT 1") == 1)
    finally:
        await conn.close()


def test_the_lock_file_of_a_running_server_is_left_alone(data_root: Path) -> None:
    first = EmbeddedPostgres(data_root / "pg", durable=False)
    first.start()
    try:
        assert first.proc is not None
        lock_file = data_root / "pg" / "postmaster.pid"
        held = lock_file.read_bytes()
        second = EmbeddedPostgres(data_root / "pg", durable=False)
        with pytest.raises(EmbeddedServerError, match=rf"PostgreSQL \(PID {first.proc.pid}\)"):
            second.start()
        assert second.proc is None
        assert lock_file.read_bytes() == held
        assert asyncio.run(_answers(first.url()))
    finally:
        first.stop()


@pytest.mark.parametrize("holder", ["gone", "pid reused"])
def test_a_lock_file_whose_server_is_gone_is_cleared(data_root: Path, holder: str) -> None:
    server = EmbeddedPostgres(data_root / "pg", durable=False)
    server.start()
    assert server.proc is not None
    gone_pid = server.proc.pid
    lock_file = data_root / "pg" / "postmaster.pid"
    lines = lock_file.read_text().splitlines(keepends=True)
    server.stop()
    assert not lock_file.exists()
    # What a crash leaves: the lock file names a process that has exited, or (after a
    # restart of the machine or container) a PID now used by an unrelated process.
    other = subprocess.Popen([sys.executable, "-c", "input()"], stdin=subprocess.PIPE)
    try:
        pid = gone_pid if holder == "gone" else other.pid
        lock_file.write_text("".join([f"{pid}\n", *lines[1:]]))
        again = EmbeddedPostgres(data_root / "pg", durable=False)
        again.start()
        try:
            assert asyncio.run(_answers(again.url()))
        finally:
            again.stop()
    finally:
        other.communicate(b"\n", timeout=10)
