"""The edge decision for one request: who calls, may they reach this endpoint, within budget?

No credentials -> 401. Credentials that are invalid, expired, revoked, of the wrong kind or
not whitelisted -> 403. Over the principal's budget, or a failed attempt from a client
address (or on a login account) over its failure budget -> 429. Throttling never refuses a
valid credential: from a throttled address a credential that may be valid (a token this
gateway made, the bootstrap secret, a token from before tags) is still looked up and served,
and only the others are refused without a lookup. Every error is a DomainError, rendered in
the URL family's envelope.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

import asyncpg
from coupon_core import redis_keys
from coupon_core.errors import Forbidden, Unauthorized
from coupon_core.routes import PLATFORM, PUBLIC_ROUTES, USER_TEMPLATES, RouteTable
from prometheus_client import CollectorRegistry

from gateway.db.staff import SessionPolicy
from gateway.domain.addresses import TrustedProxies
from gateway.domain.credentials import Credential, CredentialError, parse_authorization
from gateway.domain.secrets import TokenHasher, legacy_shaped
from gateway.domain.whitelist import allows
from gateway.principals import Caller, CallerCache, Resolver
from gateway.ratelimit import (
    BlockedClients,
    RateLimiter,
    Window,
    too_many,
)
from gateway.settings import Settings

log = logging.getLogger(__name__)

CHALLENGE = 'Bearer realm="coupon-platform", Basic realm="coupon-platform"'
THROTTLED = "Too many failed authentication attempts; retry later."
LOGIN_THROTTLED = "Too many failed logins; retry later."


@dataclass
class Gatekeeper:
    settings: Settings
    # The application's metrics registry (None: metrics kept but not exported).
    registry: CollectorRegistry | None = None
    routes: RouteTable = PLATFORM
    blocked: BlockedClients = field(default_factory=BlockedClients)
    hasher: TokenHasher = field(init=False)
    proxies: TrustedProxies = field(init=False)
    resolver: Resolver = field(init=False)
    staff_sessions: SessionPolicy = field(init=False)
    # Set once Redis is up (a cleanup context): no I/O in the factory.
    limiter: RateLimiter | None = None

    def __post_init__(self) -> None:
        self.hasher = TokenHasher(self.settings.token_key())
        self.proxies = TrustedProxies(self.settings.trusted_proxies)
        cache = CallerCache(self.settings.auth_cache_ttl_s)
        self.staff_sessions = SessionPolicy(
            idle_minutes=self.settings.staff_session_idle_minutes,
            absolute_hours=self.settings.staff_session_absolute_hours,
        )
        self.resolver = Resolver(
            cache, self.hasher, self.registry, staff_sessions=self.staff_sessions
        )
        bootstrap = self.settings.bootstrap_admin_token
        self._bootstrap = self.hasher.digest(bootstrap.get_secret_value()) if bootstrap else None

    def _limiter(self) -> RateLimiter:
        assert self.limiter is not None, "rate limiter used before start-up"
        return self.limiter

    @staticmethod
    def is_public(method: str, template: str | None) -> bool:
        return (method, template) in PUBLIC_ROUTES

    async def admit_anonymous(self, address: str) -> Window:
        limit = self.settings.anonymous_rate_limit_per_minute
        admitted, window = await self._limiter().admit(
            redis_keys.rate_limit_window("anonymous", address), limit
        )
        if not admitted:
            raise too_many(window, "Too many requests from this address; retry later.")
        return window

    async def check_not_throttled(self, address: str) -> None:
        """429 when ``address`` is over its failed-attempt budget (on any replica)."""
        local = self.blocked.blocked(address)
        if local is not None:
            raise too_many(local, THROTTLED)
        limit = self.settings.auth_failures_per_minute
        window = await self._limiter().peek(redis_keys.auth_failures(address), limit)
        if window.count >= limit:
            self.blocked.block(address, window)
            raise too_many(window, THROTTLED)

    async def record_failure(self, address: str) -> None:
        """Counts a failed attempt; 429 instead of the caller's 403 once over budget."""
        local = self.blocked.blocked(address)
        if local is not None:
            raise too_many(local, THROTTLED)  # over budget already: no need to count on
        limit = self.settings.auth_failures_per_minute
        window = await self._limiter().hit(redis_keys.auth_failures(address), limit)
        if window.count >= limit:
            if window.count == limit:
                log.warning(
                    "%s made %d failed credential attempts; throttled for %ss",
                    address,
                    window.count,
                    window.reset_s,
                )
            self.blocked.block(address, window)
        if window.count > limit:
            raise too_many(window, THROTTLED)

    def may_be_valid(self, credential: Credential) -> bool:
        """Whether a credential is worth a database lookup from a throttled address: a token
        this gateway made (its tag proves it without the database), the configured bootstrap
        secret, or a token generated before tags existed."""
        secret = credential.secret
        if self.hasher.minted(secret) or legacy_shaped(secret):
            return True
        bootstrap = self._bootstrap
        return bootstrap is not None and hmac.compare_digest(
            self.hasher.digest(secret).encode(), bootstrap.encode()
        )

    async def authenticate(
        self, pool: asyncpg.Pool, header: str | None, address: str
    ) -> tuple[Credential, Caller]:
        if not header or not header.strip():
            raise Unauthorized(
                "Authentication required: send 'Authorization: Bearer <token>' or Basic "
                "credentials.",
                headers={"WWW-Authenticate": CHALLENGE},
            )
        try:
            credential = parse_authorization(header)
        except CredentialError as exc:
            await self.record_failure(address)
            raise Forbidden(f"Invalid credentials: {exc}.", code="invalid_token") from None
        hit, caller = self.resolver.cached(credential)
        if not hit:
            if not self.may_be_valid(credential):
                await self.check_not_throttled(address)
            caller = await self.resolver.load(pool, credential)
        if caller is None:
            await self.record_failure(address)
            raise Forbidden(
                "The token is not valid: unknown, revoked or wrong secret.", code="invalid_token"
            )
        if caller.expired():
            raise Forbidden("The user token has expired; log in again.", code="token_expired")
        return credential, caller

    def authorize(self, caller: Caller, method: str, path: str, template: str | None) -> None:
        """A user token reaches the user endpoints only; an API token and a staff session
        (whose whitelist is its role's) reach what their whitelist names, and no user
        endpoint."""
        user_endpoint = template in USER_TEMPLATES
        if caller.principal.kind == "user":
            if not user_endpoint:
                raise Forbidden(
                    "A user token reaches only the user endpoints; use an API token.",
                    code="wrong_token_kind",
                )
            return
        if user_endpoint:
            raise Forbidden(
                "This endpoint needs a user token (log in at /api/v1/users/login).",
                code="cannot_authorize_user",
            )
        if not allows(caller.whitelist, method, template):
            endpoint = f"{method} {template}" if template else f"{method} {path}"
            message = (
                f"This API token is not whitelisted for {endpoint}."
                if caller.role is None
                else f"The role {caller.role!r} does not allow {endpoint}."
            )
            raise Forbidden(message, code="not_whitelisted")

    def _budget(self, caller: Caller) -> tuple[str, int]:
        principal = caller.principal
        if principal.kind == "user":
            limit = self.settings.user_rate_limit_per_minute
        else:
            # An API token's own limit, else the default; a staff session (no limit of its
            # own) the default, counted per staff account across its sessions.
            limit = caller.rate_limit or self.settings.rate_limit_per_minute
        return redis_keys.rate_limit_window(principal.kind, principal.id), limit

    @staticmethod
    def _within(taken: tuple[bool, Window]) -> Window:
        admitted, window = taken
        if not admitted:
            raise too_many(window, "Rate limit exceeded; retry after the window resets.")
        return window

    def admit_leased(self, caller: Caller) -> Window | None:
        """:meth:`admit` from this replica's lease alone (no await), or None when Redis must
        be asked."""
        taken = self._limiter().leased(*self._budget(caller))
        return None if taken is None else self._within(taken)

    async def admit(self, caller: Caller) -> Window:
        return self._within(await self._limiter().admit(*self._budget(caller)))

    def _account(self, email: str) -> str:
        # Keyed, so Redis holds no email addresses.
        return self.hasher.digest("login:" + email)[:32]

    async def check_login(self, email: str, address: str) -> None:
        """Before a password is checked: 429 when the account is over its failed-login budget
        and ``address`` already failed on it in the window. Every other address still gets its
        password checked, so a stranger's guesses do not lock the owner out."""
        limit = self.settings.login_failures_per_account_per_minute
        account = self._account(email)
        window = await self._limiter().peek(redis_keys.login_failures(account), limit)
        if window.count < limit:
            return
        pair = await self._limiter().peek(redis_keys.login_failures_from(account, address), 1)
        if pair.count >= 1:
            reset_ms = min(window.reset_ms, pair.reset_ms)
            raise too_many(Window(limit, window.count, reset_ms), LOGIN_THROTTLED)

    async def login_failed(self, email: str, address: str) -> None:
        """Counts a failed login (an unknown email the same as a wrong password): 429 once
        the address or the account is over its budget; else the caller answers 401."""
        limit = self.settings.login_failures_per_account_per_minute
        account = self._account(email)
        window = await self._limiter().hit(redis_keys.login_failures(account), limit)
        await self._limiter().hit(redis_keys.login_failures_from(account, address), 1)
        if window.count == limit:
            log.warning("%d failed logins on one account this minute; throttled", limit)
        await self.record_failure(address)
        if window.count > limit:
            raise too_many(window, LOGIN_THROTTLED)
