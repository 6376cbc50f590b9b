"""The edge decision for one request: who calls, may they reach this endpoint, within budget?

No credentials -> 401. Credentials that are invalid, expired, revoked, of the wrong kind or
not whitelisted -> 403. Over the principal's budget, or too many failed attempts from the
client address -> 429. Every error is a DomainError, rendered in the URL family's envelope.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg
from coupon_core.errors import Forbidden, Unauthorized

from gateway.domain.credentials import Credential, CredentialError, parse_authorization
from gateway.domain.routes import PUBLIC_ROUTES, USER_TEMPLATES, RouteTable
from gateway.domain.secrets import TokenHasher
from gateway.domain.whitelist import allows
from gateway.principals import Caller, CallerCache, Resolver
from gateway.ratelimit import (
    BlockedClients,
    RateLimiter,
    Window,
    failures_key,
    principal_key,
    too_many,
)
from gateway.settings import Settings

log = logging.getLogger(__name__)

CHALLENGE = 'Bearer realm="coupon-platform", Basic realm="coupon-platform"'


@dataclass
class Gatekeeper:
    settings: Settings
    routes: RouteTable = field(default_factory=RouteTable)
    blocked: BlockedClients = field(default_factory=BlockedClients)
    hasher: TokenHasher = field(init=False)
    resolver: Resolver = field(init=False)
    # Set once Redis is up (a cleanup context): no I/O in the factory.
    limiter: RateLimiter | None = None

    def __post_init__(self) -> None:
        self.hasher = TokenHasher(self.settings.token_key())
        self.resolver = Resolver(CallerCache(self.settings.auth_cache_ttl_s), self.hasher)

    def _limiter(self) -> RateLimiter:
        assert self.limiter is not None, "rate limiter used before start-up"
        return self.limiter

    def template(self, path: str) -> str | None:
        return self.routes.template_for(path)

    @staticmethod
    def is_public(method: str, template: str | None) -> bool:
        return (method, template) in PUBLIC_ROUTES

    async def admit_anonymous(self, address: str) -> Window:
        limit = self.settings.anonymous_rate_limit_per_minute
        admitted, window = await self._limiter().admit(principal_key("anonymous", address), limit)
        if not admitted:
            raise too_many(window, "Too many requests from this address; retry later.")
        return window

    async def check_not_throttled(self, address: str) -> None:
        """429 when ``address`` is over its failed-attempt budget (on any replica)."""
        local = self.blocked.blocked(address)
        if local is not None:
            raise too_many(local, "Too many failed authentication attempts; retry later.")
        limit = self.settings.auth_failures_per_minute
        window = await self._limiter().peek(failures_key(address), limit)
        if window.count >= limit:
            self.blocked.block(address, window)
            raise too_many(window, "Too many failed authentication attempts; retry later.")

    async def record_failure(self, address: str) -> None:
        """Counts a failed attempt; 429 instead of the caller's 403 once over budget."""
        limit = self.settings.auth_failures_per_minute
        window = await self._limiter().hit(failures_key(address), limit)
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
            raise too_many(window, "Too many failed authentication attempts; retry later.")

    async def authenticate(
        self, pool: asyncpg.Pool, header: str | None, address: str
    ) -> tuple[Credential, Caller]:
        if not header or not header.strip():
            raise Unauthorized(
                "Authentication required: send 'Authorization: Bearer <token>' or Basic "
                "credentials.",
                headers={"WWW-Authenticate": CHALLENGE},
            )
        local = self.blocked.blocked(address)
        if local is not None:
            raise too_many(local, "Too many failed authentication attempts; retry later.")
        try:
            credential = parse_authorization(header)
        except CredentialError as exc:
            await self.record_failure(address)
            raise Forbidden(f"Invalid credentials: {exc}.", code="invalid_token") from None
        hit, caller = self.resolver.cached(credential)
        if not hit:
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
            raise Forbidden(
                f"This API token is not whitelisted for {endpoint}.", code="not_whitelisted"
            )

    async def admit(self, caller: Caller) -> Window:
        principal = caller.principal
        if principal.kind == "user":
            limit = self.settings.user_rate_limit_per_minute
        else:
            limit = caller.rate_limit or self.settings.rate_limit_per_minute
        key = principal_key(principal.kind, principal.id)
        admitted, window = await self._limiter().admit(key, limit)
        if not admitted:
            raise too_many(window, "Rate limit exceeded; retry after the window resets.")
        return window
