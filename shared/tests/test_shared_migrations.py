"""Migrations the library ships once for every service (the outbox, its retention indexes,
the Idempotency-Key table): a service takes one by name, and it is recorded as the copy each
service used to carry was, so that a database migrated before neither runs it again nor
refuses to start."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg
import pytest
from coupon_core.migrations import MigrationError, load_migrations, migrate

ROOT = Path(__file__).resolve().parents[2]
# The checksums every database migrated before the shared layout recorded: the copies each
# service carried (identical in the three, up to commit a4b8b46). A shared migration keeps
# them to the byte, or those databases would refuse to start.
RECORDED = {
    "outbox": "2c440cef4f7d6af2de465ec544e4837c41b03dcb58559c0b9393bc37a72618c2",
    "retention": "1e22d61121b959339a422a51cf94432b9a959676d6f92c11edb2cab9f60a6882",
    "idempotency": "d6c508558cf4baa11978e974dafae798db43ed4e623ebd5e1d00bf27f1a6376d",
}
# Each service's copies, by version, as its migrations directory numbered them.
COPIES = {
    "promotion-service": {1: "outbox", 3: "retention"},
    "issuance-service": {1: "outbox", 2: "idempotency", 4: "retention"},
    "redemption-service": {1: "outbox", 2: "idempotency", 4: "retention"},
}


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


@pytest.mark.parametrize("service", COPIES)
def test_a_service_takes_the_shared_migrations_under_the_recorded_names(service: str) -> None:
    directory = ROOT / service / "migrations"
    migrations = {m.version: m for m in load_migrations(directory)}
    for version, name in COPIES[service].items():
        assert (migrations[version].name, migrations[version].checksum) == (name, RECORDED[name])
    # One source: no service carries a copy of its own any more.
    copies = [
        path.name
        for path in directory.glob("*.sql")
        if hashlib.sha256(path.read_bytes()).hexdigest() in RECORDED.values()
    ]
    assert copies == []


async def _recorded(database_url: str, service: str) -> list[tuple[int, str, str]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT version, name, checksum FROM schema_migrations WHERE service = $1 "
            "ORDER BY version",
            service,
        )
    finally:
        await conn.close()
    return [(r["version"], r["name"], r["checksum"]) for r in rows]


@pytest.mark.parametrize("upto", [None, 1], ids=["all", "first-only"])
@pytest.mark.parametrize("service", COPIES)
async def test_a_database_migrated_with_the_copies_upgrades_cleanly(
    database_url: str, tmp_path: Path, service: str, upto: int | None
) -> None:
    """The old layout (each service its own copy ``NNNN_name.sql`` of what is shared now,
    under the names and checksums above) migrated a database, fully or up to its first
    migration; the shared layout then applies only what is missing and refuses nothing."""
    current = load_migrations(ROOT / service / "migrations")
    old = _write(
        tmp_path / "old",
        {
            f"{m.version:04d}_{COPIES[service].get(m.version, m.name)}.sql": m.sql
            for m in current
            if upto is None or m.version <= upto
        },
    )
    assert all(
        m.checksum == RECORDED[COPIES[service][m.version]]
        for m in load_migrations(old)
        if m.version in COPIES[service]
    )
    before = await migrate(database_url, old, service=service)
    recorded_before = await _recorded(database_url, service)

    applied = await migrate(database_url, ROOT / service / "migrations", service=service)

    assert applied == [m.version for m in current if m.version not in before]
    after = await _recorded(database_url, service)
    assert after[: len(recorded_before)] == recorded_before
    assert [(v, n) for v, n, _ in after] == [(m.version, m.name) for m in current]


def test_a_shared_migration_is_taken_by_a_marker_file(tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_outbox.shared": "-- the library's shared migration\n",
            "0002_own.sql": "CREATE TABLE own (x int);",
        },
    )
    first, second = load_migrations(directory)
    assert (first.version, first.name, first.checksum) == (1, "outbox", RECORDED["outbox"])
    assert "CREATE TABLE outbox" in first.sql
    assert (second.version, second.name) == (2, "own")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"0001_nothing_like_it.shared": ""}, "no shared migration"),
        ({"0001_outbox.shared": "CREATE TABLE x (y int);"}, "only comments"),
        ({"0001_outbox.shared": "", "0001_outbox.sql": "SELECT 1;"}, "appears twice"),
        ({"1_outbox.shared": ""}, "NNNN_description"),
    ],
)
def test_bad_marker_files_are_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(MigrationError, match=message):
        load_migrations(_write(tmp_path / "bad", files))
