"""Configuration of the gateway, from the environment (see docs/operations.md)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any, Literal

from coupon_core.settings import MIN_SECRET_LENGTH, RetentionPassSettings
from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

# The token hash key outside production (local runs, tests): stable, so tokens stored by
# one run still work in the next. Production refuses to start without its own key.
DEVELOPMENT_TOKEN_HASH_KEY = "development-token-hash-key-not-for-production"  # noqa: S105


def _split_urls(value: str) -> str:
    urls = [part.strip() for part in value.split(",") if part.strip()]
    if not urls:
        raise ValueError("at least one upstream URL is required")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
    return ",".join(url.rstrip("/") for url in urls)


class Settings(RetentionPassSettings):
    service_name: str = "gateway"
    port: int = Field(default=8080, ge=0, le=65535)
    # Comma-separated base URLs of each service's replicas (a Kubernetes Service is one URL).
    promotion_upstreams: str
    issuance_upstreams: str
    redemption_upstreams: str
    webhook_upstreams: str
    upstream_connect_timeout_s: float = Field(default=1.0, gt=0, le=30)
    upstream_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # Requests in flight to one service at once; the next waits up to POOL_TIMEOUT_S, then
    # gets 503.
    upstream_pool_size: int = Field(default=256, ge=1, le=10_000)
    # An upstream connection is closed after this many requests or this many seconds, so
    # that replicas added behind a Service get their share (gateway.upstreams).
    upstream_connection_max_requests: int = Field(default=1000, ge=1, le=1_000_000)
    upstream_connection_max_age_s: float = Field(default=10.0, gt=0, le=3600)
    # SPEC section 2: when set, an API token "bootstrap-admin" with this secret and the "*"
    # whitelist is ensured at start-up.
    bootstrap_admin_token: SecretStr | None = None
    # Requests per minute and principal, shared by every replica; an API token's own
    # rate_limit overrides the API-token default.
    rate_limit_per_minute: int = Field(default=6000, ge=1, le=10_000_000)
    user_rate_limit_per_minute: int = Field(default=120, ge=1, le=10_000_000)
    # Unauthenticated calls (register, login) per minute and client address.
    anonymous_rate_limit_per_minute: int = Field(default=60, ge=1, le=10_000_000)
    # Failed credential attempts per minute and client address; past it failed attempts get
    # 429 (a valid credential is still served).
    auth_failures_per_minute: int = Field(default=10, ge=1, le=10_000)
    # Failed logins per minute and email; past it an address that failed on the account gets
    # 429 without its password being checked, until the minute ends.
    login_failures_per_account_per_minute: int = Field(default=10, ge=1, le=10_000)
    # Peers (CIDRs, comma-separated) whose forwarded client addresses are believed: the
    # ingress. Empty: the client address is the TCP peer.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # The header the trusted proxies write the client address in.
    trusted_proxy_header: Literal["X-Forwarded-For", "Forwarded"] = "X-Forwarded-For"
    # Key of the HMAC that token secrets are stored under (and generated tokens are tagged
    # with). Required in production; changing it invalidates every stored token.
    token_hash_key: SecretStr | None = Field(default=None, validate_default=True)
    # How long a resolved (or unknown) credential is trusted without the database: a revoke
    # takes effect on every replica within this time.
    auth_cache_ttl_s: float = Field(default=1.0, ge=0, le=1.0)
    user_token_ttl_s: int = Field(default=86_400, ge=60, le=90 * 86_400)
    # Argon2 hashes (login, registration) running at once, each holding 64 MiB; a request
    # that gets no turn within PASSWORD_HASH_WAIT_S answers 503 (docs/authentication.md).
    password_hash_concurrency: int = Field(default=2, ge=1, le=64)
    password_hash_wait_s: float = Field(default=10.0, gt=0, le=60)
    # Staff sessions of the console (docs/console.md): a session unused for the idle time,
    # or older than the absolute time, is over.
    staff_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    staff_session_absolute_hours: int = Field(default=12, ge=1, le=30 * 24)
    # The gateway URL the console calls the API through (its own listener); default
    # http://127.0.0.1:PORT.
    console_api_url: str | None = None
    # The session cookie's Secure attribute: auto sets it unless the console is reached on a
    # loopback address over http (make run).
    console_cookie_secure: Literal["auto", "always", "never"] = "auto"
    # Audit records (every change through the console or the admin API) older than this are
    # removed, in bounded batches.
    audit_retention_days: int = Field(default=365, ge=1, le=3650)

    @field_validator("bootstrap_admin_token")
    @classmethod
    def _bootstrap_strength(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("token_hash_key")
    @classmethod
    def _token_hash_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if info.data.get("environment") == "production":
                raise ValueError("required when ENVIRONMENT is production")
            return None
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return tuple(ip_network(part.strip()) for part in value.split(",") if part.strip())
        except ValueError as exc:
            raise ValueError(f"expected comma-separated CIDRs: {exc}") from None

    @field_validator("trusted_proxy_header", mode="before")
    @classmethod
    def _header_spelling(cls, value: Any) -> Any:
        spellings = {"x-forwarded-for": "X-Forwarded-For", "forwarded": "Forwarded"}
        return spellings.get(value.lower(), value) if isinstance(value, str) else value

    def token_key(self) -> bytes:
        key = self.token_hash_key
        return (key.get_secret_value() if key else DEVELOPMENT_TOKEN_HASH_KEY).encode()

    _check_promotion = field_validator("promotion_upstreams")(_split_urls)
    _check_issuance = field_validator("issuance_upstreams")(_split_urls)
    _check_redemption = field_validator("redemption_upstreams")(_split_urls)
    _check_webhook = field_validator("webhook_upstreams")(_split_urls)
