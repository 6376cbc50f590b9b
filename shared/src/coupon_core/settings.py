"""Settings base: every process reads its configuration from the environment, once, at start-up."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TypeVar

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)

# Secrets shorter than this are refused outside local development.
MIN_SECRET_LENGTH = 16
# Defaults shared with clients built outside a process's settings (tests, one-off commands):
# see docs/operations.md, "Connection pools and bursts", for how they were chosen.
DEFAULT_REDIS_POOL_SIZE = 64
DEFAULT_POOL_TIMEOUT_S = 10.0
# Redis URL schemes: a single Redis, or a Redis Cluster's seed nodes; with TLS or without.
REDIS_TLS_SCHEMES = ("rediss://", "rediss+cluster://")
REDIS_SCHEMES = ("redis://", "redis+cluster://", *REDIS_TLS_SCHEMES)
# Retention floors (docs/operations.md, "Retention"): the outbox relay replays this much of
# the outbox when Redis lost its data (coupon_core.events.REPLAY_WINDOW), and SPEC section 5
# keeps idempotency keys at least a day.
OUTBOX_RETENTION_FLOOR_H = 24
IDEMPOTENCY_RETENTION_FLOOR_H = 24


class ServiceSettings(BaseSettings):
    """What every process needs: its data stores, its address, how it trusts the gateway."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    environment: str = Field(default="production", pattern="^(local|test|production)$")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Bind with SO_REUSEPORT: the local launcher holds each port it picks (see
    # coupon_dev.ports.reserve_port), and the process binds it alongside.
    reuse_port: bool = False
    database_url: str = Field(min_length=1)
    redis_url: str = Field(min_length=1)
    identity_secret: SecretStr
    identity_max_age_s: float = Field(default=30.0, gt=0, le=600)
    db_pool_min_size: int = Field(default=1, ge=0, le=200)
    db_pool_max_size: int = Field(default=10, ge=1, le=500)
    # Most connections the process opens to Redis (on a cluster: commands in flight).
    redis_pool_size: int = Field(default=DEFAULT_REDIS_POOL_SIZE, ge=1, le=10_000)
    # How long a request waits for a free PostgreSQL or Redis connection before its 503.
    pool_timeout_s: float = Field(default=DEFAULT_POOL_TIMEOUT_S, gt=0, le=120)
    # How long a Redis reply may take on an open connection (a Redis that stopped answering
    # without closing it); a refused or reset connection fails at once whatever this says.
    redis_socket_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # TLS to Redis (a rediss:// or rediss+cluster:// URL): the certificate authority to
    # trust instead of the system's, and a client certificate for servers that want one.
    redis_tls_ca_file: FilePath | None = None
    redis_tls_cert_file: FilePath | None = None
    redis_tls_key_file: FilePath | None = None
    # Off only for a managed Redis Cluster whose nodes are announced by IP address while
    # their certificate names a host (the certificate is still checked against the CA).
    redis_tls_check_hostname: bool = True
    # How long a client may take to send a request's headers, and then its body, before
    # the connection is closed (a body that times out gets a 408 first).
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    shutdown_timeout_s: float = Field(default=10.0, gt=0, le=300)
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    access_log: bool = True
    apply_migrations: bool = True
    # Most entries the service's event stream keeps (coupon_core.streams): past it the relay
    # trims the oldest even if a consumer group has not read them, and replays them to it
    # from the outbox later. Bounds the stream's Redis memory (about 0.3 KB an entry).
    stream_max_entries: int = Field(default=1_000_000, ge=10, le=100_000_000)
    # How often the event-loop lag sampler wakes (coupon_core.looplag); 0 turns it off.
    loop_lag_interval_s: float = Field(default=0.05, ge=0, le=60)
    # Once started, move the objects alive (modules, pools, schemas) out of the garbage
    # collector's reach, so that full collections walk only what requests created.
    gc_freeze: bool = True

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(REDIS_SCHEMES):
            raise ValueError("must be a " + ", ".join(REDIS_SCHEMES) + " URL")
        return value

    @model_validator(mode="after")
    def _redis_tls(self) -> ServiceSettings:
        files = (self.redis_tls_ca_file, self.redis_tls_cert_file, self.redis_tls_key_file)
        if any(files) and not self.redis_url.startswith(REDIS_TLS_SCHEMES):
            raise ValueError("REDIS_TLS_* files are set but REDIS_URL is not a rediss:// URL")
        if (self.redis_tls_cert_file is None) != (self.redis_tls_key_file is None):
            raise ValueError("REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together")
        return self

    @field_validator("identity_secret")
    @classmethod
    def _secret_strength(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value


class RetentionPassSettings(ServiceSettings):
    """How a process runs its retention passes (coupon_core.retention): every service, and
    the gateway for its audit log."""

    retention_interval_s: float = Field(default=60.0, gt=0, le=86_400)
    retention_batch: int = Field(default=1000, ge=1, le=100_000)
    retention_pause_s: float = Field(default=0.1, ge=0, le=60)

    @model_validator(mode="after")
    def _pool_holds_a_pass(self) -> RetentionPassSettings:
        # A retention pass holds one connection for its lock while its statements take
        # another from the same pool.
        if self.db_pool_max_size < 2:
            raise ValueError("DB_POOL_MAX_SIZE must be at least 2 in a service (retention)")
        return self


class RetentionSettings(RetentionPassSettings):
    """What a service with an outbox needs to run its retention jobs (coupon_core.retention)."""

    outbox_retention_h: int = Field(default=72, ge=OUTBOX_RETENTION_FLOOR_H, le=24 * 366)
    processed_events_retention_h: int = Field(default=72, ge=OUTBOX_RETENTION_FLOOR_H, le=24 * 366)
    idempotency_retention_h: int = Field(default=24, ge=IDEMPOTENCY_RETENTION_FLOOR_H, le=24 * 366)

    @model_validator(mode="after")
    def _replays_recognised(self) -> RetentionSettings:
        # An event replayed from the outbox must still be recognised as processed.
        if self.processed_events_retention_h < self.outbox_retention_h:
            raise ValueError(
                "PROCESSED_EVENTS_RETENTION_H must be at least OUTBOX_RETENTION_H "
                "(a replayed event must still be recognised as processed)"
            )
        return self

    @property
    def outbox_retention(self) -> timedelta:
        return timedelta(hours=self.outbox_retention_h)

    @property
    def processed_events_retention(self) -> timedelta:
        return timedelta(hours=self.processed_events_retention_h)

    @property
    def idempotency_retention(self) -> timedelta:
        return timedelta(hours=self.idempotency_retention_h)


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment; on a bad value print what is wrong and exit 2."""
    try:
        return cls()
    except ValidationError as exc:
        lines = [f"invalid configuration for {cls.__name__}:"]
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]).upper() or "?"
            lines.append(f"  {name}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
