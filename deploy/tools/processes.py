"""The five processes as the deployment checks know them (docs/operations.md, "At a glance")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    package: str  # `python -m <package>`
    component: str  # the app.kubernetes.io/component label of its pods
    database: str
    port: int  # the port its image listens on (PORT in deploy/Dockerfile)
    # PostgreSQL connections of its one-off command (`python -m <package> reconcile`, a pool
    # of at most 2: coupon_core.web.reconcile_command), run by hand, one at a time.
    one_off_connections: int = 0


PROCESSES = {
    "gateway": Process("gateway", "gateway", "coupon_gateway", 8080),
    "promotion-service": Process("promotion_service", "service", "coupon_promotion", 8000),
    "issuance-service": Process("issuance_service", "service", "coupon_issuance", 8000, 2),
    "redemption-service": Process("redemption_service", "service", "coupon_redemption", 8000, 2),
    "webhook-service": Process("webhook_service", "service", "coupon_webhook", 8000),
}
# A migration Job holds one connection (coupon_core.migrations: one session, advisory-locked).
MIGRATION_CONNECTIONS = 1
