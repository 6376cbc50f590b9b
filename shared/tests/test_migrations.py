"""The migrations runner: ordered, idempotent, applied once under concurrency, checksummed."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
import pytest
from coupon_core.migrations import MigrationError, apply_migrations, load_migrations, migrate
from coupon_dev.embedded import EmbeddedPostgres
from coupon_dev.ports import free_port
from coupon_dev.testing.poll import until


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "migrations",
        {
            "0001_create.sql": "CREATE TABLE applied (n integer NOT NULL);",
            # A migration with a visible side effect: if it ran twice there would be two rows.
            "0002_insert.sql": "INSERT INTO applied (n) VALUES (2);",
            "0010_later.sql": "ALTER TABLE applied ADD COLUMN note text;",
        },
    )


async def test_applies_in_order_once_and_is_idempotent(
    database_url: str, migrations_dir: Path
) -> None:
    assert await migrate(database_url, migrations_dir, service="svc") == [1, 2, 10]
    assert await migrate(database_url, migrations_dir, service="svc") == []
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM applied") == 1
        recorded = await conn.fetch(
            "SELECT version FROM schema_migrations WHERE service = 'svc' ORDER BY 1"
        )
        assert [r["version"] for r in recorded] == [1, 2, 10]
    finally:
        await conn.close()


async def test_concurrent_start_ups_apply_each_migration_once(
    database_url: str, migrations_dir: Path
) -> None:
    results = await asyncio.gather(
        *(migrate(database_url, migrations_dir, service="svc") for _ in range(8))
    )
    applied = sorted(v for result in results for v in result)
    assert applied == [1, 2, 10]
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM applied") == 1
    finally:
        await conn.close()


async def test_new_migration_is_applied_later(database_url: str, migrations_dir: Path) -> None:
    await migrate(database_url, migrations_dir, service="svc")
    _write(migrations_dir, {"0011_more.sql": "INSERT INTO applied (n) VALUES (11);"})
    assert await migrate(database_url, migrations_dir, service="svc") == [11]


async def test_services_keep_separate_histories(database_url: str, tmp_path: Path) -> None:
    a = _write(tmp_path / "a", {"0001_a.sql": "CREATE TABLE a (x int);"})
    b = _write(tmp_path / "b", {"0001_b.sql": "CREATE TABLE b (x int);"})
    assert await migrate(database_url, a, service="a") == [1]
    assert await migrate(database_url, b, service="b") == [1]


async def test_changed_migration_is_refused(database_url: str, migrations_dir: Path) -> None:
    await migrate(database_url, migrations_dir, service="svc")
    (migrations_dir / "0002_insert.sql").write_text("INSERT INTO applied (n) VALUES (3);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(database_url, migrations_dir, service="svc")


async def test_failed_migration_rolls_back_and_records_nothing(
    database_url: str, tmp_path: Path
) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE ok (x int);",
            "0002_bad.sql": "CREATE TABLE bad (x int); SELECT nope;",
        },
    )
    with pytest.raises(asyncpg.UndefinedColumnError):
        await migrate(database_url, directory, service="svc")
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('bad')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
        # The lock was released despite the failure: a fixed file applies.
        (directory / "0002_bad.sql").write_text("CREATE TABLE bad (x int);")
        assert await apply_migrations(conn, directory, service="svc") == [2]
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_short.sql": "SELECT 1;"}, "NNNN_description"),
        ({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, "appears twice"),
    ],
)
def test_malformed_migration_sets_are_refused(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(MigrationError, match=message):
        load_migrations(_write(tmp_path / "bad", files))


async def test_migrate_waits_for_a_server_that_starts_late(
    migrations_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A migration container can start before PostgreSQL accepts TCP connections (compose's
    # first start initialises the data directory on a socket-only server first).
    caplog.set_level(logging.WARNING, logger="coupon_core.migrations")
    server = EmbeddedPostgres(tmp_path / "late", free_port(), durable=False)
    migrating = asyncio.create_task(migrate(server.url(), migrations_dir, service="svc"))
    try:

        async def refused_once() -> bool:
            assert not migrating.done(), migrating
            return "not accepting connections yet" in caplog.text

        await until(refused_once, "a refused connection attempt")
        server.start()
        assert await migrating == [1, 2, 10]
    finally:
        migrating.cancel()
        server.stop()


async def test_migrate_gives_up_when_the_server_stays_down(migrations_dir: Path) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(ConnectionRefusedError):
        await migrate(closed, migrations_dir, service="svc", connect_deadline_s=0.5)
