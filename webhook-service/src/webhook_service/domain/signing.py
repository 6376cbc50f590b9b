"""Signatures as the Standard Webhooks specification has them: ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature``, a space-separated ``v1,<base64>`` for each
valid secret (during a rotation's grace period, the new and the previous one), each the
HMAC-SHA256 of ``<id>.<timestamp>.<body>`` keyed by the secret's bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from webhook_service.domain.secrets import SECRET_PREFIX

CONTENT_TYPE = "application/json"
USER_AGENT = "coupon-platform-webhooks/1"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(key: bytes, *, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def headers(secrets: Sequence[str], *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers of one attempt: signed at its own time, with every secret."""
    signatures = " ".join(
        signature(secret_key(secret), msg_id=msg_id, timestamp=timestamp, body=body)
        for secret in secrets
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
    }
