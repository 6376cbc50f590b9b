"""Who is calling: credentials resolved to a caller, through a short-lived in-process cache.

The cache keeps both answers (a caller, or "no such credential") for at most
``auth_cache_ttl_s`` (<= 1 s), so a valid token costs no database round trip on the hot path
and a revoke takes effect on every replica within that time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg
from coupon_core.db import Connection
from coupon_core.identity import Principal
from prometheus_client import CollectorRegistry, Counter

from gateway.db import api_tokens, users
from gateway.db import staff as staff_db
from gateway.domain.credentials import Credential
from gateway.domain.roles import whitelist_of
from gateway.domain.secrets import (
    KEYED_SCHEME,
    LEGACY_SCHEME,
    STAFF_SESSION_PREFIX,
    USER_TOKEN_PREFIX,
    TokenHasher,
    legacy_digest,
)


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    whitelist: tuple[str, ...] = ()
    rate_limit: int | None = None
    # Unix time a user token expires at; None for API tokens and staff sessions (whose
    # lookup itself refuses one that is over).
    expires_at: float | None = None
    # A staff session's role (its whitelist is the role's); None for tokens.
    role: str | None = None

    def expired(self, now: float | None = None) -> bool:
        current = time.time() if now is None else now
        return self.expires_at is not None and self.expires_at <= current


class CallerCache:
    def __init__(self, ttl_s: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Caller | None]] = {}

    def get(self, key: str) -> tuple[bool, Caller | None]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        until, caller = entry
        if until <= time.monotonic():
            del self._entries[key]
            return False, None
        return True, caller

    def put(self, key: str, caller: Caller | None) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[key] = (time.monotonic() + self._ttl, caller)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)


def _api_caller(token: api_tokens.ApiToken) -> Caller:
    return Caller(
        principal=Principal(kind="api_token", id=str(token.id), name=token.name),
        whitelist=tuple(token.whitelist),
        rate_limit=token.rate_limit,
    )


def _user_caller(found: users.UserToken) -> Caller:
    user = found.user
    return Caller(
        principal=Principal(kind="user", id=str(user.id), name=user.email),
        expires_at=found.expires_at.timestamp(),
    )


def _staff_caller(account: staff_db.Staff) -> Caller:
    return Caller(
        principal=Principal(kind="staff", id=str(account.id), name=account.email),
        whitelist=whitelist_of(account.role),
        role=account.role,
    )


class Resolver:
    """Credentials to callers. ``cached`` is the hot path; ``load`` asks the database (and
    rewrites a legacy hash it finds keyed). A staff session's lookup also counts as its use:
    with the cache, at most one write a second per session and replica."""

    def __init__(
        self,
        cache: CallerCache,
        hasher: TokenHasher,
        registry: CollectorRegistry | None = None,
        *,
        staff_sessions: staff_db.SessionPolicy,
    ) -> None:
        self.cache = cache
        self.hasher = hasher
        self.staff_sessions = staff_sessions
        self._in_flight: dict[str, asyncio.Task[Caller | None]] = {}
        self._lookups = Counter(
            "gateway_credential_lookups",
            "Credentials looked up in the database, by result (found, unknown).",
            ["result"],
            registry=registry,
        )

    def _key(self, credential: Credential) -> str:
        digest = self.hasher.digest
        if credential.name is not None:
            return "n:" + digest(credential.name) + ":" + digest(credential.secret)
        return "b:" + digest(credential.secret)

    def cached(self, credential: Credential) -> tuple[bool, Caller | None]:
        return self.cache.get(self._key(credential))

    async def load(self, pool: asyncpg.Pool, credential: Credential) -> Caller | None:
        """The database's answer, then cached. Concurrent loads of one credential (a burst
        of its requests when its cache entry lapses) share one lookup, so the gateway's pool
        serves one query per credential, not one per request; the lookup is a task of its
        own, which a caller that goes away does not cancel for the others."""
        key = self._key(credential)
        lookup = self._in_flight.get(key)
        if lookup is None:
            lookup = asyncio.create_task(self._lookup(pool, credential))
            self._in_flight[key] = lookup
            lookup.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(lookup)

    async def _lookup(self, pool: asyncpg.Pool, credential: Credential) -> Caller | None:
        async with pool.acquire() as conn:
            if credential.name is not None:
                caller = await _basic(conn, self.hasher, credential.name, credential.secret)
            else:
                caller = await self._bearer(conn, credential.secret)
        self._lookups.labels(result="unknown" if caller is None else "found").inc()
        self.cache.put(self._key(credential), caller)
        return caller

    def forget(self, credential: Credential) -> None:
        self.cache.drop(self._key(credential))

    async def _bearer(self, conn: Connection, secret: str) -> Caller | None:
        keyed = self.hasher.digest(secret)
        if secret.startswith(STAFF_SESSION_PREFIX):
            # Never stored under a legacy hash: sessions came after keyed hashes.
            account = await staff_db.session_staff(conn, keyed, self.staff_sessions)
            return None if account is None else _staff_caller(account)
        # Either lookup rehashes a token it finds under its legacy hash (its first use).
        legacy = legacy_digest(secret)
        if secret.startswith(USER_TOKEN_PREFIX):
            user_token = await users.active_token(conn, keyed, legacy)
            return None if user_token is None else _user_caller(user_token)
        api_token = await api_tokens.active_by_hash(conn, keyed, legacy)
        return None if api_token is None else _api_caller(api_token)


async def _basic(conn: Connection, hasher: TokenHasher, name: str, secret: str) -> Caller | None:
    token = await api_tokens.active_by_name(conn, name)
    if token is None:
        # An unknown name costs the same comparison, against nothing.
        hasher.matches("", KEYED_SCHEME, secret)
        return None
    if not hasher.matches(token.secret_hash, token.hash_scheme, secret):
        return None
    if token.hash_scheme == LEGACY_SCHEME:
        keyed = hasher.digest(secret)
        await api_tokens.rehash(conn, token.id, legacy=token.secret_hash, keyed=keyed)
    return _api_caller(token)
