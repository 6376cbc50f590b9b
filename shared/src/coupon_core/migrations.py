"""Numbered plain-SQL migrations, applied once under a PostgreSQL advisory lock.

Files are named ``NNNN_description.sql`` and applied in number order, each in its own
transaction, and recorded in ``schema_migrations`` with a checksum. Concurrent start-ups
serialise on the advisory lock, so every migration runs exactly once.

A migration several services need alike (the outbox's tables, their retention indexes) is
written once, in this package's ``shared_migrations/<description>.sql``; a service takes it
with a file ``NNNN_description.shared`` in its own directory, which holds only comments: its
SQL is the shared file's, run and recorded as that service's migration ``NNNN`` under the
same name and checksum as any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from coupon_core.db import Connection

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(?:sql|shared)$")
SHARED_DIR = Path(__file__).resolve().parent / "shared_migrations"
# Arbitrary constant namespace for the advisory lock: (namespace, hash of the service name).
_LOCK_NAMESPACE = 72_410
# How long ``migrate`` (a migration Job, compose's one-shot container) waits for PostgreSQL
# to accept connections: it may start first, or while the server still initialises its data
# directory on a Unix socket only (the postgres image's first start).
CONNECT_DEADLINE_S = 60.0
_CONNECT_RETRY_S = 0.5

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    service    text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, version)
)
"""


class MigrationError(Exception):
    """The migration files and the database disagree."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted([*directory.glob("*.sql"), *directory.glob("*.shared")]):
        match = _FILE_RE.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name}: migration files are named NNNN_description.sql "
                "(or NNNN_description.shared for a shared one)"
            )
        version, name = int(match.group(1)), match.group(2)
        if version in found:
            raise MigrationError(f"{path.name}: version {version} appears twice")
        sql = _shared_sql(path, name) if path.suffix == ".shared" else path.read_text()
        found[version] = Migration(version, name, sql)
    return [found[v] for v in sorted(found)]


def _shared_sql(marker: Path, name: str) -> str:
    """The SQL a ``NNNN_name.shared`` file takes: ``shared_migrations/name.sql``."""
    if any(
        line.strip() and not line.lstrip().startswith("--")
        for line in marker.read_text().splitlines()
    ):
        raise MigrationError(
            f"{marker.name}: a .shared file names a shared migration and holds only comments"
        )
    source = SHARED_DIR / f"{name}.sql"
    if not source.is_file():
        raise MigrationError(f"{marker.name}: there is no shared migration {source}")
    return source.read_text()


async def apply_migrations(conn: asyncpg.Connection, directory: Path, *, service: str) -> list[int]:
    """Apply the pending migrations of ``service``; returns the versions applied now."""
    migrations = load_migrations(directory)
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", _LOCK_NAMESPACE, service)
    try:
        await conn.execute(CREATE_TABLE)
        rows = await conn.fetch(
            "SELECT version, checksum FROM schema_migrations WHERE service = $1", service
        )
        done = {row["version"]: row["checksum"] for row in rows}
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{service} migration {migration.version:04d}_{migration.name} was "
                        "changed after it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (service, version, name, checksum) "
                    "VALUES ($1, $2, $3, $4)",
                    service,
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %s %04d_%s", service, migration.version, migration.name)
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_NAMESPACE, service)
    return applied_now


@dataclass(slots=True)
class MigrationSet:
    """A service's migrations, as the process that runs them knows them: read once at
    start-up, not on every readiness probe."""

    service: str
    files: tuple[tuple[int, str], ...]  # (version, "NNNN_name"), in order
    # Set once the database was seen with all of them applied (readiness asks no more).
    seen_applied: bool = False

    @classmethod
    def load(cls, service: str, directory: Path) -> MigrationSet:
        return cls(
            service,
            tuple((m.version, f"{m.version:04d}_{m.name}") for m in load_migrations(directory)),
        )

    async def pending(self, conn: Connection) -> list[str]:
        """``NNNN_name`` of every migration not recorded as applied, in order."""
        applied: set[int] = set()
        if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
            rows = await conn.fetch(
                "SELECT version FROM schema_migrations WHERE service = $1", self.service
            )
            applied = {row["version"] for row in rows}
        return [label for version, label in self.files if version not in applied]


async def connect_when_up(dsn: str, deadline_s: float) -> asyncpg.Connection:
    """A connection to ``dsn``, retried while the server refuses or is still starting up
    (not on a wrong password or database: those do not heal), for up to ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        left = deadline - time.monotonic()
        try:
            return await asyncpg.connect(dsn, timeout=min(10.0, max(left, 1.0)))
        except (OSError, asyncpg.CannotConnectNowError) as exc:  # TimeoutError included
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            log.warning(
                "PostgreSQL not accepting connections yet (%s); retrying for %.0f s more",
                exc,
                left,
            )
            await asyncio.sleep(min(_CONNECT_RETRY_S, left))


async def migrate(
    dsn: str, directory: Path, *, service: str, connect_deadline_s: float = CONNECT_DEADLINE_S
) -> list[int]:
    conn = await connect_when_up(dsn, connect_deadline_s)
    try:
        return await apply_migrations(conn, directory, service=service)
    finally:
        await conn.close()
