"""Stacks for the end-to-end suites: the shared one and ones of their own."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from coupon_dev.stack import Stack, StackConfig, load_demo

ADMIN_TOKEN = "e2e-bootstrap-admin-token-0123456789"

# Load and fuzz suites send many requests, some with bad credentials, from one address:
# the gateway's throttles (docs/configuration.md) are raised so they measure the platform.
GENEROUS_LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "10000000",
    "USER_RATE_LIMIT_PER_MINUTE": "10000000",
    "ANONYMOUS_RATE_LIMIT_PER_MINUTE": "10000000",
    "AUTH_FAILURES_PER_MINUTE": "10000",
}

# The webhook-service may deliver to the suites' receivers on loopback over http, retries
# within a second instead of the production backoff, and a claim of a replica killed
# mid-attempt lapses in 15 s, not 25 (its lease: twice the timeout and 5 s; docs/webhooks.md).
WEBHOOK_ENV = {
    "WEBHOOK_ALLOW_HTTP_LOOPBACK": "true",
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
    "WEBHOOK_RETRY_BASE_S": "0.2",
    "WEBHOOK_RETRY_MAX_DELAY_S": "1",
    "WEBHOOK_TIMEOUT_S": "5",
}


@contextlib.contextmanager
def running_stack(
    *,
    replicas: int = 2,
    extra_env: Mapping[str, str] | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    postgres_port: int | None = None,
    redis_port: int | None = None,
    durable: bool = False,
) -> Iterator[Stack]:
    """A stack of its own, for suites that break things (faults) or that must not disturb
    the shared one (fuzzing may revoke tokens)."""
    with tempfile.TemporaryDirectory(prefix="coupon-e2e-") as tmp:
        config = StackConfig(
            data_dir=Path(tmp),
            gateway_port=0,
            replicas=replicas,
            bootstrap_admin_token=ADMIN_TOKEN,
            durable=durable,
            extra_env={**GENEROUS_LIMITS, **(extra_env or {})},
            service_env={
                **(service_env or {}),
                "webhook": {**WEBHOOK_ENV, **(service_env or {}).get("webhook", {})},
            },
            postgres_port=postgres_port,
            redis_port=redis_port,
        )
        with Stack(config) as running:
            yield running


@contextlib.contextmanager
def demo_stack() -> Iterator[Stack]:
    """The stack as ``make run`` gives it: one replica of each service, the default limits,
    and the demo data loaded the way ``make run`` loads it (``couponctl demo``)."""
    with tempfile.TemporaryDirectory(prefix="coupon-demo-") as tmp:
        config = StackConfig(
            data_dir=Path(tmp), gateway_port=0, bootstrap_admin_token=ADMIN_TOKEN, durable=False
        )
        with Stack(config) as running:
            assert load_demo(running.gateway_url, ADMIN_TOKEN), "couponctl demo failed"
            yield running
